-- wrk script: POST /v1/embeddings with one short input, cycling through a few sentences,
-- and report latency percentiles in a form bench/server/run.sh collects.
local texts = {
  "Hello, my name is",
  "The capital of France is Paris.",
  "What is the capital of France?",
  "short query",
  "naive cafe resume deja vu",
  "int main(void) { return 0; }",
}
local bodies = {}
for i, t in ipairs(texts) do
  bodies[i] = '{"model":"bert-embed","input":"' .. t .. '"}'
end
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  n = n + 1
  return wrk.format(nil, "/v1/embeddings", nil, bodies[(n % #bodies) + 1])
end

done = function(summary, latency, requests)
  local errs = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f non2xx=%d errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, errs.status, errs.connect + errs.read + errs.write + errs.timeout))
end
