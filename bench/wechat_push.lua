-- wrk script: POST pre-made secure-mode WeChat pushes (bench/wechat-push.sh makes them with
-- host/examples/wechat_pushes.rs), one per request, each with its own MsgId.
local lines = {}
local i = 0

function init(args)
  local path = os.getenv("PUSH_FILE")
  for line in io.lines(path) do
    local tab = line:find("\t", 1, true)
    table.insert(lines, { line:sub(1, tab - 1), line:sub(tab + 1) })
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "text/xml"
  -- Threads start at different offsets so that they do not repeat each other's pushes.
  i = math.random(#lines)
end

function request()
  i = i % #lines + 1
  local push = lines[i]
  return wrk.format(nil, "/wechat/demo?" .. push[1], nil, push[2])
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
