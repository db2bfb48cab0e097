-- POST /v1/activate of fresh domains on licenses with free seats.
-- Arguments: the keys file (one key per line), the product slug and a run tag that
-- keeps domains fresh across runs on the same database.
dofile("report.lua")

local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  keys, product, tag = {}, args[2], args[3]
  for line in io.lines(args[1]) do
    keys[#keys + 1] = line
  end
  headers = {["Content-Type"] = "application/json"}
  count = 0
end

function request()
  count = count + 1
  local key = keys[(count * 2 + id) % #keys + 1]
  local body = string.format(
    '{"license_key": "%s", "domain": "new-%s-%d-%d.bench-site.com", "product": "%s"}',
    key, tag, id, count, product)
  return wrk.format("POST", "/v1/activate", headers, body)
end
