-- venueless.xml (expat) and bbb.cost, the getMeetings answer it reads.
local xml = require "venueless.xml"
local bbb = require "venueless.bbb"

test("a tree of tables: tag, attrs, children in order", function()
  local t = xml.parse('<?xml version="1.0" encoding="ISO-8859-1"?>\n'
    .. '<a x="1" y="&lt;2&gt;">hi <b/>there<c>\233</c><![CDATA[<raw>]]></a>')
  eq({ tag = "a", attrs = { x = "1", y = "<2>" }, "hi ",
    { tag = "b", attrs = {} }, "there", { tag = "c", attrs = {}, "é" }, "<raw>" }, t)
end)

test("malformed text, DOCTYPEs and depth are refused", function()
  fails("^line 1, column 9: mismatched tag$", xml.parse("<a><b></a>"))
  local v, msg, code = xml.parse("")
  eq(nil, v)
  eq("invalid", code)
  ok(msg:find("no element found", 1, true), msg)
  fails("junk after document element", xml.parse("<a/><b/>"))
  fails("DOCTYPE is not accepted", xml.parse(
    '<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'))
  fails("nested too deeply", xml.parse(("<a>"):rep(300) .. ("</a>"):rep(300)))
  eq("a", xml.parse(("<a>"):rep(199) .. ("</a>"):rep(199)).tag)
  raises(function() xml.parse({}) end, "bad argument #1")
end)

local function meeting(p, a, v)
  return ("<meeting><participantCount>%s</participantCount><voiceParticipantCount>%s"
    .. "</voiceParticipantCount><videoCount>%s</videoCount></meeting>"):format(p, a, v)
end
local function answer(rc, meetings)
  return "<response><returncode>" .. rc .. "</returncode><meetings>"
    .. meetings .. "</meetings></response>"
end

test("bbb.cost: the reference's formula", function()
  local cost, n = bbb.cost(answer("SUCCESS", meeting(5, 2, 1) .. meeting(3, 0, 0)))
  eq(80, cost)
  eq(2, n)
  eq(math.type(cost), "integer")
  eq(0, (bbb.cost("<response><returncode> SUCCESS </returncode><meetings/></response>")))
  eq(0, (bbb.cost("<response><returncode>SUCCESS</returncode></response>")))
  eq(10 + 10 * 4 * 3 + 4 * 2, (bbb.cost(answer("SUCCESS", meeting(" 4\n", 2, 3)))))
end)

test("bbb.cost: refusals", function()
  fails('^returncode "FAILED": bad checksum$', bbb.cost(
    "<response><returncode>FAILED</returncode><message>bad checksum</message></response>"))
  local _, _, code = bbb.cost("<response/>")
  eq("failed", code)
  fails("^malformed XML: line 1", bbb.cost("<response>"))
  fails("not <response>", bbb.cost("<html/>"))
  fails("no voiceParticipantCount", bbb.cost(answer("SUCCESS",
    "<meeting><participantCount>1</participantCount><videoCount>0</videoCount></meeting>")))
  fails('videoCount is not a count: "%-1"', bbb.cost(answer("SUCCESS", meeting(1, 1, -1))))
  fails("cost out of range", bbb.cost(answer("SUCCESS", meeting(999999999, 0, 999999999))))
end)
