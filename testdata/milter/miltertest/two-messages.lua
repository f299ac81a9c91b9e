-- Two transactions on one connection with an abort between them, as Postfix does after every message.
local conn = mt.connect("inet:" .. port .. "@127.0.0.1", 10, 0.2)
if conn == nil then error("cannot connect to the milter on port " .. port) end
mt.set_timeout(20)
local err = mt.negotiate(conn, nil, nil, nil)
if err ~= nil then error("negotiate: " .. err) end
err = mt.conninfo(conn, "client.example.com", "192.0.2.7")
if err ~= nil then error("conninfo: " .. err) end

for n = 1, 2 do
  err = mt.mailfrom(conn, "<sender" .. n .. "@example.com>")
  if err ~= nil then error("mailfrom: " .. err) end
  err = mt.rcptto(conn, "<rcpt@example.org>")
  if err ~= nil then error("rcptto: " .. err) end
  if mt.header(conn, "Subject", "message " .. n) ~= nil then error("header") end
  if mt.eoh(conn) ~= nil then error("eoh") end
  if mt.bodystring(conn, "body " .. n .. "\r\n") ~= nil then error("body") end
  err = mt.eom(conn)
  if err ~= nil then error("eom: " .. err) end
  if mt.getreply(conn) ~= SMFIR_CONTINUE then error("message " .. n .. " not continued") end
  if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results") then error("no A-R on message " .. n) end
  err = mt.abort(conn)
  if err ~= nil then error("abort: " .. err) end
end

mt.disconnect(conn)
mt.echo("two-messages: ok")
