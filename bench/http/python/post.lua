-- wrk: create tasks (the write path), each with its own title.
counter = 0
request = function()
  counter = counter + 1
  local body = '{"title":"bench ' .. counter .. '","priority":1}'
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end
