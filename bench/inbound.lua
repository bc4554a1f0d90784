-- wrk script: POST text messages with unique msg_ids to the local channel (so every request does
-- the full durable path: de-dup record, follower update, plugin call, outbox, group commit).
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  token = os.getenv("PLAZA_ADMIN_TOKEN") or "bench-token"
  account = os.getenv("PLAZA_ACCOUNT") or "demo"
  prefix = tostring(os.time()) .. "-" .. tostring(tid) .. "-"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.path = "/api/v1/accounts/" .. account .. "/inbound"
end

function request()
  counter = counter + 1
  local follower = "o-" .. tostring(counter % 1000)
  local body = '{"msg_id":"' .. prefix .. counter .. '","from":"' .. follower ..
    '","msg_type":"text","content":"hello"}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
