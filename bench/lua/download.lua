-- GET one path again and again (a package download, or the same file served bare).
-- Argument: the path (with its query string, if any).
dofile("report.lua")

function init(args)
  download = wrk.format("GET", args[1])
end

function request()
  return download
end
