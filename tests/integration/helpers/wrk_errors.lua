-- Prints wrk's counts as one JSON line, so a test can assert on failed requests.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}\n',
    summary.requests, e.connect, e.read, e.write, e.timeout, e.status))
end
