"""Tern benchmark harness: drives Postfix's smtp-source against Tern and a
stock Postfix, each delivering to its own Maildir. See bench/README.md.

Standard library only; run with Debian's /usr/bin/python3 (3.11)."""
