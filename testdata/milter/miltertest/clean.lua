-- A clean message: every step continues, one Authentication-Results is inserted at the top, and the
-- final answer is CONTINUE. Run: miltertest -D port=PORT -s clean.lua
local conn = mt.connect("inet:" .. port .. "@127.0.0.1", 10, 0.2)
if conn == nil then error("cannot connect to the milter on port " .. port) end
mt.set_timeout(20)

local err = mt.negotiate(conn, nil, nil, nil)
if err ~= nil then error("negotiate: " .. err) end
if not mt.test_action(conn, SMFIF_ADDHDRS) then error("milter did not ask for SMFIF_ADDHDRS") end
if not mt.test_action(conn, SMFIF_CHGHDRS) then error("milter did not ask for SMFIF_CHGHDRS") end

mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.org", "{daemon_name}", "mx.example.org", "{client_addr}", "192.0.2.7")
err = mt.conninfo(conn, "client.example.com", "192.0.2.7")
if err ~= nil then error("conninfo: " .. err) end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("conninfo not continued") end

err = mt.helo(conn, "client.example.com")
if err ~= nil then error("helo: " .. err) end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("helo not continued") end

err = mt.mailfrom(conn, "<sender@example.com>")
if err ~= nil then error("mailfrom: " .. err) end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("mailfrom not continued") end

mt.macro(conn, SMFIC_RCPT, "i", "4AbCdE1234")
err = mt.rcptto(conn, "<rcpt@example.org>")
if err ~= nil then error("rcptto: " .. err) end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("rcptto not continued") end

if mt.header(conn, "From", "Sender <sender@example.com>") ~= nil then error("header From") end
if mt.header(conn, "To", "rcpt@example.org") ~= nil then error("header To") end
if mt.header(conn, "Subject", "clean test") ~= nil then error("header Subject") end
if mt.eoh(conn) ~= nil then error("eoh") end
if mt.bodystring(conn, "Hello, this is a clean message.\r\n") ~= nil then error("body") end

err = mt.eom(conn)
if err ~= nil then error("eom: " .. err) end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("eom reply was not CONTINUE") end
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results") then error("no Authentication-Results inserted") end
local ar = mt.getheader(conn, "Authentication-Results", 0)
if ar == nil then error("getheader returned nil") end
mt.echo("Authentication-Results:" .. ar)
if not string.find(ar, "spf=pass", 1, true) then error("A-R lacks spf=pass: " .. ar) end
if not string.find(ar, "mx.example.org;", 1, true) then error("A-R lacks our authserv-id: " .. ar) end

mt.disconnect(conn)
mt.echo("clean: ok")
