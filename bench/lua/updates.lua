-- POST /v1/updates/check, rotating through real (license key, domain) pairs.
-- Arguments: the pairs file (key TAB domain per line) and the product slug. Each
-- check reports an older installed version, so every answer carries a package URL.
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
      '{"license_key": "%s", "domain": "%s", "product": "%s", "version": "1.0.0", ' ..
      '"wp_version": "6.6.2", "php_version": "8.2.12", "nonce": "bench"}',
      key, domain, product)
    requests[#requests + 1] = wrk.format("POST", "/v1/updates/check", headers, body)
  end
  index = (id * 7919) % #requests
end

function request()
  index = index % #requests + 1
  return requests[index]
end
