#!/usr/bin/env python3
"""Write a venueless world JSON with many rooms and exhibitors to stdout.

usage: gen-world.py ID ROOMS EXHIBITORS [LINKS_PER_EXHIBITOR]
Every third room has a chat.native module; exhibitors cycle over the
exhibition rooms and get links and social media links.
"""
import json
import sys

wid, nrooms, nex = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
nlinks = int(sys.argv[4]) if len(sys.argv) > 4 else 2
kinds = [
    [{"type": "livestream.native", "config": {"hls_url": "https://s.example.org/%d.m3u8"}},
     {"type": "chat.native", "config": {"volatile": True}}],
    [{"type": "call.bigbluebutton", "config": {"record": False}}],
    [{"type": "exhibition.native", "config": {}}],
]
rooms = []
for i in range(nrooms):
    mods = json.loads(json.dumps(kinds[i % 3]))
    if "hls_url" in mods[0]["config"]:
        mods[0]["config"]["hls_url"] %= i
    rooms.append({"id": "r%d" % i, "name": "Raum %d \"Ä\" 'x'" % i,
                  "description": "Beschreibung %d\\n" % i, "modules": mods,
                  "trait_grants": {"participant": []}, "pretalx_id": i})
expo = [r["id"] for i, r in enumerate(rooms) if i % 3 == 2] or [rooms[0]["id"]]
exhibitors = []
for i in range(nex):
    exhibitors.append({
        "name": "Aussteller %d" % i, "tagline": "Tagline %d" % i,
        "short_text": "Kurz %d" % i, "logo": "https://cdn.example.org/%d.png" % i,
        "text": "Text %d" % i, "size": ["1x1", "3x1", "3x3"][i % 3],
        "room": expo[i % len(expo)],
        "links": [{"display_text": "Link %d.%d" % (i, j), "url": "https://ex%d.example.org/%d" % (i, j)}
                  for j in range(nlinks)],
        "social_media_links": [{"display_text": "Social %d" % i, "url": "https://social.example/@%d" % i}],
    })
json.dump({"world": {"id": wid, "title": "Generated world %s" % wid,
                     "JWT_secrets": [{"issuer": "any", "audience": "venueless", "secret": "x" * 64}]},
           "roles": {}, "trait_grants": {}, "rooms": rooms, "exhibitors": exhibitors},
          sys.stdout)
