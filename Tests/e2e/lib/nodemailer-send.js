// Sends one message with nodemailer, the way an application configures it.
// Reads its options as JSON on stdin:
//   {host, port, secure, user, pass, ca (PEM path), from, to, subject, text}
// and prints one JSON line: {ok, response, accepted, rejected, messageId}
// or {ok: false, error, code, responseCode, response}.
// Run by Tests/e2e with Debian's node-nodemailer (NODE_PATH=/usr/share/nodejs).
'use strict';
const fs = require('fs');
const nodemailer = require('nodemailer');

const o = JSON.parse(fs.readFileSync(0, 'utf8'));
const transport = nodemailer.createTransport({
  host: o.host,
  port: o.port,
  secure: o.secure,            // true: TLS from the start (465); false: STARTTLS
  requireTLS: !o.secure,       // refuse to go on without STARTTLS
  auth: { user: o.user, pass: o.pass },
  tls: { ca: [fs.readFileSync(o.ca)], rejectUnauthorized: true },
  name: 'node.e2e.test',
  connectionTimeout: 20000,
  greetingTimeout: 20000,
  socketTimeout: 20000,
});

transport.sendMail({ from: o.from, to: o.to, subject: o.subject, text: o.text })
  .then((info) => {
    console.log(JSON.stringify({ ok: true, response: info.response, accepted: info.accepted,
                                 rejected: info.rejected, messageId: info.messageId,
                                 nodemailer: require('nodemailer/package.json').version,
                                 node: process.version }));
  })
  .catch((err) => {
    console.log(JSON.stringify({ ok: false, error: String(err && err.message), code: err && err.code,
                                 responseCode: err && err.responseCode, response: err && err.response }));
    process.exitCode = 1;
  });
