-- POST /v1/admin/licenses: one license per call (used when bulk issue is absent).
-- Arguments: the admin API key and the product slug.
dofile("report.lua")

function init(args)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. args[1],
  }
  local body = string.format('{"product": "%s"}', args[2])
  issue = wrk.format("POST", "/v1/admin/licenses", headers, body)
end

function request()
  return issue
end
