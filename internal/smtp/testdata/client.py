# A Python smtplib client for the Go tests: python3 client.py MODE HOST PORT CAFILE [COUNT].
# Prints one JSON object describing what happened; exits non-zero on any SMTP error.
import json
import smtplib
import socket
import ssl
import sys
from email.message import EmailMessage

mode, host, port, cafile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
USER, PASSWORD = "alice@example.test", "correct horse battery"
ctx = ssl.create_default_context(cafile=cafile)


def message(subject, to):
    m = EmailMessage()
    m["From"] = "Alice <alice@example.test>"
    m["To"] = to
    m["Subject"] = subject
    m["Message-ID"] = "<%s@client.example>" % subject.replace(" ", "-")
    m.set_content("Hello from Python.\n")
    return m


if mode == "starttls":
    # Port 587 as a mail client uses it: STARTTLS, AUTH, one local and one remote
    # recipient, with DSN parameters (RFC 3461) per recipient.
    with smtplib.SMTP(host, port, local_hostname="client.example") as s:
        s.starttls(context=ctx)
        s.login(USER, PASSWORD)
        msg = message("python starttls", "bob@example.test, carol@remote.test").as_bytes()
        code, resp = s.mail(USER, ["RET=HDRS", "ENVID=env+2B42"])
        assert code == 250, (code, resp)
        code, resp = s.rcpt("bob@example.test")
        assert code == 250, (code, resp)
        code, resp = s.rcpt("carol@remote.test", ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;carol@remote.test"])
        assert code == 250, (code, resp)
        code, resp = s.data(msg)
        print(json.dumps({"code": code, "reply": resp.decode()}))
        if code != 250:
            sys.exit(1)
elif mode == "send_message":
    with smtplib.SMTP(host, port, local_hostname="client.example") as s:
        s.starttls(context=ctx)
        s.login(USER, PASSWORD)
        refused = s.send_message(message("python send_message", "bob@example.test, dave@remote.test"))
        print(json.dumps({"refused": list(refused)}))
elif mode == "ssl":
    with smtplib.SMTP_SSL(host, port, local_hostname="client.example", context=ctx) as s:
        s.login(USER, PASSWORD)
        refused = s.send_message(message("python ssl", "bob@example.test"))
        print(json.dumps({"refused": list(refused)}))
elif mode == "pipeline":
    # RFC 2920: MAIL, RCPT and DATA in one write, then the message.
    sock = socket.create_connection((host, port), timeout=10)
    f = sock.makefile("rb")

    def reply():
        lines = []
        while True:
            line = f.readline().decode().rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    out = {"greeting": reply()}
    sock.sendall(b"EHLO client.example\r\n")
    out["ehlo"] = reply()
    sock.sendall(b"MAIL FROM:<sender@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
                 b"RCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    out["pipelined"] = [reply()[-1] for _ in range(5)]
    sock.sendall(b"Subject: pipelined\r\n\r\nhello\r\n.\r\nQUIT\r\n")
    out["data"] = reply()[-1]
    out["quit"] = reply()[-1]
    print(json.dumps(out))
elif mode == "burst":
    # One session sending messages one after another until the server refuses MAIL
    # or the count (the fifth argument) is reached.
    count = int(sys.argv[5])
    out = {"accepted": 0, "refused": None}
    with smtplib.SMTP_SSL(host, port, local_hostname="client.example", context=ctx) as s:
        s.login(USER, PASSWORD)
        for i in range(count):
            code, resp = s.mail(USER)
            if code != 250:
                out["refused"] = "%d %s" % (code, resp.decode())
                s.rset()
                break
            code, resp = s.rcpt("bob@example.test")
            assert code == 250, (code, resp)
            code, resp = s.data(message("python burst %d" % i, "bob@example.test").as_bytes())
            assert code == 250, (code, resp)
            out["accepted"] += 1
    print(json.dumps(out))
else:
    sys.exit("unknown mode " + mode)
