#!/usr/bin/env python3
# tests/bbb-fakeserver.py DIR: plays BigBlueButton servers over HTTP on
# 127.0.0.1 at a free port, written to DIR/port once it listens. Each
# request line is appended to DIR/requests. The first path segment picks
# how the server behaves:
#   /good/...       SUCCESS, meetings (5 participants, 2 voice, 1 video)
#                   and (3, 0, 0): cost 80 by the reference's formula
#   /empty/...      SUCCESS, no meetings: cost 0
#   /slow/...       answers only after 30 s
#   /err500/...     HTTP 500
#   /malformed/...  XML cut short
#   /failed/...     returncode FAILED
#   /redirect/...   302 to /good/ (requests and we follow it)
#   /big/...        an answer of 2 MB
# Standard library only.
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

top = sys.argv[1]
lock = threading.Lock()

MEETING = ("<meeting><meetingName>m</meetingName>"
           "<participantCount>%d</participantCount>"
           "<voiceParticipantCount>%d</voiceParticipantCount>"
           "<videoCount>%d</videoCount></meeting>")
GOOD = ("<?xml version=\"1.0\"?>\n<response><returncode>SUCCESS</returncode>"
        "<meetings>" + MEETING % (5, 2, 1) + "\n" + MEETING % (3, 0, 0)
        + "</meetings></response>")
EMPTY = ("<response><returncode>SUCCESS</returncode><meetings/>"
         "<messageKey>noMeetings</messageKey></response>")
FAILED = ("<response><returncode>FAILED</returncode><messageKey>checksumError"
          "</messageKey><message>You did not pass the checksum security check"
          "</message></response>")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with lock, open(os.path.join(top, "requests"), "a") as f:
            f.write(self.requestline + "\n")
        kind = self.path.split("/")[1]
        if kind == "good":
            self.answer(200, GOOD)
        elif kind == "empty":
            self.answer(200, EMPTY)
        elif kind == "slow":
            time.sleep(30)
            self.answer(200, GOOD)
        elif kind == "err500":
            self.answer(500, "<html>Internal Server Error</html>")
        elif kind == "malformed":
            self.answer(200, GOOD[:-20])
        elif kind == "failed":
            self.answer(200, FAILED)
        elif kind == "redirect":
            self.answer(302, "", [("Location", "/good/api/getMeetings")])
        elif kind == "big":
            self.answer(200, "<response>" + "x" * (2 << 20) + "</response>")
        else:
            self.answer(404, "not found")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(os.path.join(top, "port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(top, "port.tmp"), os.path.join(top, "port"))
server.serve_forever()
