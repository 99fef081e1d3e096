"""A scripted SMTP server for the scenarios where a real MTA cannot be made
to misbehave on cue: "451 on the first RCPT, 250 on the next", "550 for
everyone", no STARTTLS, no SMTPUTF8. It runs in threads of the runner on
ADDRESS:PORT (25 by default, on an address of its own) and records every
transaction so a scenario can assert "exactly one delivery".

    with ScriptedPeer("127.100.7.31", replies={"RCPT": ["451 4.3.0 try later", "250 2.1.5 ok"]}) as peer:
        ...                                     # Tern delivers to it
        peer.wait_delivered(1)                  # [Transaction]
        peer.transactions                       # every MAIL FROM seen, delivered or not

Scripts: `replies` maps a verb to what the peer answers.
  keys    CONNECT (the greeting), EHLO, HELO, STARTTLS, MAIL, RCPT,
          DATA (the reply after the final dot), DATA_START (the reply to the
          DATA command itself, default 354), RSET, NOOP, QUIT, VRFY, BDAT
  values  a string: always that reply;
          a list: successive uses take successive items across all
            connections, and the last one stays (["451 …", "250 …"]: the
            first RCPT is deferred, every later one accepted);
          a callable(peer, transaction, argument) returning a string.
  A reply with several lines is written with "\\n" between them. The reply
  "DISCONNECT" closes the connection without answering.
Unscripted verbs get the usual 250/354/221 answers. EHLO advertises
PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8 (smtputf8=False
leaves it out; `extensions` replaces the list) and STARTTLS when given a
certificate (tls=(cert, key)) and not yet in TLS. No CHUNKING: BDAT gets 502.

Standard library only; touches nothing but its listening socket.
"""

import socket
import ssl
import threading
import time

from harness import Fail, deadline_loop

DISCONNECT = "DISCONNECT"
DEFAULT_REPLIES = {
    "EHLO": None,  # built from the extensions
    "HELO": "250 {hostname}",
    "STARTTLS": "220 2.0.0 Ready to start TLS",
    "MAIL": "250 2.1.0 Ok",
    "RCPT": "250 2.1.5 Ok",
    "DATA_START": "354 End data with <CR><LF>.<CR><LF>",
    "DATA": "250 2.0.0 Ok: queued as {queue_id}",
    "RSET": "250 2.0.0 Ok",
    "NOOP": "250 2.0.0 Ok",
    "QUIT": "221 2.0.0 Bye",
    "VRFY": "252 2.0.0 Cannot VRFY user",
    "BDAT": "502 5.5.1 BDAT not implemented",
}


class Transaction:
    """One MAIL FROM … (RCPT …)* (DATA …) as the peer saw it."""

    def __init__(self, connection, helo, tls, client):
        self.connection = connection      # index of the connection (0, 1, …)
        self.helo = helo
        self.tls = tls                    # None, or (version, cipher) of the session
        self.client = client              # (address, port) of the client
        self.mail_from = None             # the reverse-path, without < >
        self.mail_params = []             # ["SIZE=123", "BODY=8BITMIME", …]
        self.rcpts = []                   # [(forward-path, params, reply)] for every RCPT
        self.data = None                  # message bytes, CRLF, dot-unstuffed, without the final dot
        self.data_reply = None            # the reply after the final dot
        self.ended = None                 # "data", "rset", "quit", "mail" (a new MAIL), "closed"

    @property
    def accepted_rcpts(self):
        return [r for r, _, reply in self.rcpts if reply.startswith("2")]

    @property
    def delivered(self):
        return self.data is not None and (self.data_reply or "").startswith("2")

    def __repr__(self):
        return (f"Transaction(conn {self.connection}, from <{self.mail_from}>, rcpts {[r for r, _, _ in self.rcpts]}, "
                f"data {None if self.data is None else len(self.data)} bytes, reply {self.data_reply!r}, "
                f"tls {self.tls}, ended {self.ended})")


class ScriptedPeer:
    def __init__(self, address, port=25, *, hostname="peer.test", replies=None, tls=None, smtputf8=True,
                 size=52428800, extensions=None, name=None, timeout=60):
        self.address = address
        self.port = port
        self.hostname = hostname
        self.name = name or f"scripted peer {address}:{port}"
        self.replies = dict(replies or {})
        unknown = set(self.replies) - set(DEFAULT_REPLIES) - {"CONNECT"}
        if unknown:
            raise ValueError(f"unknown verbs in the script: {sorted(unknown)}")
        self.tls_context = None
        if tls:
            cert, key = tls
            self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_context.load_cert_chain(str(cert), str(key))
        if extensions is None:
            extensions = ["PIPELINING", f"SIZE {size}", "8BITMIME", "ENHANCEDSTATUSCODES"]
            if smtputf8:
                extensions.append("SMTPUTF8")
        self.extensions = list(extensions)
        self.timeout = timeout
        self.lock = threading.Lock()
        self.uses = {}                    # verb → how many replies of its list were used
        self._transactions = []
        self._connections = []            # [{"client", "tls", "commands": [...]}]
        self._sockets = set()
        self._threads = []
        self.listener = None
        self.errors = []                  # exceptions in connection threads
        self._queue_number = 0

    # MARK: Life cycle

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((self.address, self.port))
        except OSError as e:
            s.close()
            raise Fail(f"{self.name}: cannot bind {self.address}:{self.port}: {e}")
        s.listen(64)
        self.port = s.getsockname()[1]
        self.listener = s
        t = threading.Thread(target=self._accept_loop, name=self.name, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        """Closes the listener and every open connection; safe to call twice."""
        if self.listener is not None:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        with self.lock:
            socks = list(self._sockets)
        for c in socks:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(5)

    def __enter__(self):
        if self.listener is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # MARK: What the peer saw

    @property
    def transactions(self):
        with self.lock:
            return list(self._transactions)

    @property
    def connections(self):
        with self.lock:
            return [dict(c, commands=list(c["commands"])) for c in self._connections]

    def delivered(self):
        return [t for t in self.transactions if t.delivered]

    def wait_for(self, predicate, timeout=30, what="the expected transactions"):
        """Waits until predicate(peer) is true; raises Fail with what was seen."""
        for _ in deadline_loop(timeout):
            if predicate(self):
                return
        raise Fail(f"{self.name}: not {what} within {timeout} s; saw {len(self.connections)} connection(s), "
                   f"transactions {self.transactions}")

    def wait_delivered(self, count=1, timeout=30):
        self.wait_for(lambda p: len(p.delivered()) >= count, timeout, f"{count} delivered message(s)")
        return self.delivered()

    def describe(self):
        return "\n".join(f"  conn {i} from {c['client']} tls={c['tls']}: {' | '.join(c['commands'])}"
                         for i, c in enumerate(self.connections)) or "  no connections"

    # MARK: The server

    def _accept_loop(self):
        listener = self.listener
        while True:
            try:
                conn, client = listener.accept()
            except OSError:
                return
            with self.lock:
                index = len(self._connections)
                record = {"client": client, "tls": None, "commands": []}
                self._connections.append(record)
                self._sockets.add(conn)
            t = threading.Thread(target=self._serve, args=(conn, client, index, record),
                                 name=f"{self.name} conn {index}", daemon=True)
            t.start()
            self._threads.append(t)

    def _reply_for(self, verb, transaction, argument, **fields):
        script = self.replies.get(verb)
        if script is None:
            text = DEFAULT_REPLIES[verb]
        elif callable(script):
            text = script(self, transaction, argument)
        elif isinstance(script, (list, tuple)):
            with self.lock:
                n = self.uses.get(verb, 0)
                self.uses[verb] = n + 1
            text = script[min(n, len(script) - 1)]
        else:
            text = script
        if text is None:
            text = DEFAULT_REPLIES[verb]
        return text.format(hostname=self.hostname, **fields) if "{" in text else text

    def _serve(self, conn, client, index, record):
        session = _Session(self, conn, client, index, record)
        try:
            session.run()
        except (OSError, ssl.SSLError, ConnectionError) as e:
            session.note(f"(connection error: {e})")
        except Exception as e:  # noqa: BLE001 - a scripting mistake must show, not hang the test
            self.errors.append(e)
            session.note(f"(peer error: {type(e).__name__}: {e})")
        finally:
            session.finish("closed")
            with self.lock:
                self._sockets.discard(session.sock)
                self._sockets.discard(conn)
            try:
                session.sock.close()
            except OSError:
                pass

    def _next_queue_id(self):
        with self.lock:
            self._queue_number += 1
            return f"SP{int(time.time() * 1000) % 10**9:09d}{self._queue_number:04d}"


class _Session:
    def __init__(self, peer, conn, client, index, record):
        self.peer = peer
        self.sock = conn
        self.client = client
        self.index = index
        self.record = record
        self.buffer = b""
        self.helo = None
        self.tls = None
        self.tx = None
        conn.settimeout(peer.timeout)

    def note(self, text):
        with self.peer.lock:
            self.record["commands"].append(text)

    def send(self, reply):
        lines = reply.split("\n")
        out = "".join(f"{l[:3]}-{l[4:]}\r\n" for l in lines[:-1]) + lines[-1] + "\r\n"
        self.sock.sendall(out.encode("utf-8"))

    def readline(self):
        while b"\r\n" not in self.buffer:
            if len(self.buffer) > 1 << 20:
                raise ConnectionError("line longer than 1 MiB")
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def finish(self, how):
        if self.tx is not None:
            self.tx.ended = how
            with self.peer.lock:
                self.peer._transactions.append(self.tx)
            self.tx = None

    def answer(self, verb, argument="", **fields):
        reply = self.peer._reply_for(verb, self.tx, argument, **fields)
        self.note(f"-> {reply.splitlines()[0] if reply else reply}")
        if reply == DISCONNECT:
            raise ConnectionError("scripted disconnect")
        self.send(reply)
        return reply

    def run(self):
        greeting = self.peer._reply_for("CONNECT", None, "") if "CONNECT" in self.peer.replies else \
            f"220 {self.peer.hostname} ESMTP scripted peer"
        self.note(f"-> {greeting}")
        if greeting == DISCONNECT:
            return
        self.send(greeting)
        if greeting.startswith("421"):
            return
        while True:
            line = self.readline()
            if line is None:
                return
            text = line.decode("utf-8", "surrogateescape")
            verb, _, argument = text.partition(" ")
            verb = verb.upper()
            self.note(text if verb != "AUTH" else "AUTH …")
            if verb in ("EHLO", "HELO"):
                self.finish("rset")
                self.helo = argument.strip()
                if verb == "EHLO" and "EHLO" not in self.peer.replies:
                    ext = list(self.peer.extensions)
                    if self.peer.tls_context and self.tls is None:
                        ext.append("STARTTLS")
                    self.send("\n".join([f"250 {self.peer.hostname}"] + [f"250 {e}" for e in ext]))
                    self.note("-> 250 (EHLO)")
                else:
                    self.answer(verb, argument)
            elif verb == "STARTTLS" and self.peer.tls_context and self.tls is None:
                reply = self.answer("STARTTLS", argument)
                if reply.startswith("220"):
                    self.buffer = b""  # nothing sent before the handshake counts (RFC 3207)
                    self.sock = self.peer.tls_context.wrap_socket(self.sock, server_side=True)
                    self.tls = (self.sock.version(), self.sock.cipher()[0])
                    with self.peer.lock:
                        self.record["tls"] = self.tls
                        self.peer._sockets.add(self.sock)
                    self.helo = None
                    self.finish("rset")
            elif verb == "MAIL":
                self.finish("mail")
                path, params = _path_and_params(argument, "FROM:")
                self.tx = Transaction(self.index, self.helo, self.tls, self.client)
                self.tx.mail_from, self.tx.mail_params = path, params
                reply = self.answer("MAIL", argument)
                if not reply.startswith("2"):
                    self.tx = None
            elif verb == "RCPT":
                if self.tx is None:
                    self.send("503 5.5.1 Error: need MAIL command")
                    continue
                path, params = _path_and_params(argument, "TO:")
                reply = self.answer("RCPT", argument)
                self.tx.rcpts.append((path, params, reply))
            elif verb == "DATA":
                if self.tx is None or not self.tx.accepted_rcpts:
                    self.send("554 5.5.1 Error: no valid recipients")
                    continue
                reply = self.answer("DATA_START", argument)
                if not reply.startswith("3"):
                    continue
                data = self.read_data()
                if data is None:
                    return
                self.tx.data = data
                self.tx.data_reply = self.answer("DATA", "", queue_id=self.peer._next_queue_id())
                self.finish("data")
            elif verb == "RSET":
                self.finish("rset")
                self.answer("RSET", argument)
            elif verb == "QUIT":
                self.finish("quit")
                self.answer("QUIT", argument)
                return
            elif verb in ("NOOP", "VRFY", "BDAT"):
                self.answer(verb, argument)
            else:
                self.send("502 5.5.2 Error: command not recognized")

    def read_data(self):
        """Lines up to the lone '.', dot-unstuffed, CRLF kept; None if the client vanished."""
        out = []
        while True:
            line = self.readline()
            if line is None:
                return None
            if line == b".":
                return b"".join(out)
            out.append((line[1:] if line.startswith(b".") else line) + b"\r\n")


def _path_and_params(argument, prefix):
    """'FROM:<a@b> SIZE=12' → ('a@b', ['SIZE=12'])."""
    rest = argument.strip()
    if rest.upper().startswith(prefix):
        rest = rest[len(prefix):].lstrip()
    if rest.startswith("<"):
        end = rest.find(">")
        path, params = (rest[1:end], rest[end + 1:]) if end >= 0 else (rest[1:], "")
    else:
        path, _, params = rest.partition(" ")
    return path, params.split()
