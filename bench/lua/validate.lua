-- POST /v1/validate, rotating through real (license key, domain) pairs.
-- Arguments: the pairs file (key TAB domain per line) and the product slug. Each
-- thread starts at its own offset, so no row is hot and threads do not move together.
dofile("report.lua")

local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local path, product = args[1], args[2]
  local headers = {["Content-Type"] = "application/json"}
  requests = {}
  for line in io.lines(path) do
    local key, domain = line:match("^([^\t]+)\t([^\t]+)$")
    local body = string.format(
      '{"license_key": "%s", "domain": "%s", "product": "%s", "nonce": "bench"}',
      key, domain, product)
    requests[#requests + 1] = wrk.format("POST", "/v1/validate", headers, body)
  end
  index = (id * 7919) % #requests
end

function request()
  index = index % #requests + 1
  return requests[index]
end
