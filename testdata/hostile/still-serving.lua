-- After a hostile milter connection: a normal Postfix-like conversation still gets CONTINUE at every step.
-- Run: miltertest -D port=PORT -s still-serving.lua
local conn = mt.connect("inet:" .. port .. "@127.0.0.1", 10, 0.2)
if conn == nil then error("cannot connect to the milter on port " .. port) end
mt.set_timeout(20)
local err = mt.negotiate(conn, nil, nil, nil)
if err ~= nil then error("negotiate: " .. err) end
mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.org", "{daemon_name}", "mx.example.org", "{client_addr}", "192.0.2.7")
if mt.conninfo(conn, "client.example.com", "192.0.2.7") ~= nil or mt.getreply(conn) ~= SMFIR_CONTINUE then error("conninfo not continued") end
if mt.helo(conn, "client.example.com") ~= nil or mt.getreply(conn) ~= SMFIR_CONTINUE then error("helo not continued") end
if mt.mailfrom(conn, "<sender@example.com>") ~= nil or mt.getreply(conn) ~= SMFIR_CONTINUE then error("mailfrom not continued") end
mt.macro(conn, SMFIC_RCPT, "i", "4AbCdE1234")
if mt.rcptto(conn, "<rcpt@example.org>") ~= nil or mt.getreply(conn) ~= SMFIR_CONTINUE then error("rcptto not continued") end
if mt.header(conn, "From", "Sender <sender@example.com>") ~= nil then error("header From") end
if mt.header(conn, "Subject", "still serving") ~= nil then error("header Subject") end
if mt.eoh(conn) ~= nil then error("eoh") end
if mt.bodystring(conn, "A clean message after a hostile one.\r\n") ~= nil then error("body") end
if mt.eom(conn) ~= nil then error("eom") end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("eom reply was not CONTINUE") end
mt.disconnect(conn)
mt.echo("still serving: ok")
