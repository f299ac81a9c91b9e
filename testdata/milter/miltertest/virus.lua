-- A message the (fake) virus scanner flags: rejected at end of message with our 554 5.7.1 reply.
local conn = mt.connect("inet:" .. port .. "@127.0.0.1", 10, 0.2)
if conn == nil then error("cannot connect to the milter on port " .. port) end
mt.set_timeout(20)
local err = mt.negotiate(conn, nil, nil, nil)
if err ~= nil then error("negotiate: " .. err) end

err = mt.conninfo(conn, "client.example.com", "192.0.2.7")
if err ~= nil then error("conninfo: " .. err) end
err = mt.mailfrom(conn, "<sender@example.com>")
if err ~= nil then error("mailfrom: " .. err) end
err = mt.rcptto(conn, "<rcpt@example.org>")
if err ~= nil then error("rcptto: " .. err) end
if mt.header(conn, "Subject", "infected") ~= nil then error("header") end
if mt.eoh(conn) ~= nil then error("eoh") end
if mt.bodystring(conn, "X-FAKE-VIRUS-MARKER\r\n") ~= nil then error("body") end

err = mt.eom(conn)
if err ~= nil then error("eom: " .. err) end
if mt.getreply(conn) ~= SMFIR_REPLYCODE then error("eom reply was not REPLYCODE") end
-- miltertest compares the whole reply: code, enhanced code and text.
if not mt.eom_check(conn, MT_SMTPREPLY, "554", "5.7.1", "Message content rejected, virus found: Fake-Test-Signature") then
  error("reply was not 554 5.7.1 with the virus name")
end
if mt.eom_check(conn, MT_HDRINSERT) then error("a rejected message got header edits") end

mt.disconnect(conn)
mt.echo("virus: ok")
