-- GET /healthz: the bare request, the baseline of the run.
dofile("report.lua")
