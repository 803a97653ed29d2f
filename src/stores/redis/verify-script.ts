/**
 * `verifyAttempt` on Redis: one script, so a verify is one round trip (see `VerifyAttemptInput` in
 * ../store.ts for the steps). KEYS (one hash slot: the user's tag): lock, challenge, state,
 * attempts, failures, failed-at. ARGV: userId, session, phone, now, maxAttempts, threshold,
 * baseMs, maxDelayMs, hardLimit, failureTtlMs, the record's field positions
 * ("length,userId,session,hash,expiresAt,phone"), the deadline in the server's clock (ms; '0':
 * none), then one hash per secret. Every reply is {outcome, server time in ms, ...}; `late` adds
 * who answered (each Redis Cluster node has its own clock, server-deadline.ts): 0 when cluster
 * support is disabled, else the node's id and the slot owners as flat (first, last, node id)
 * triples (1 when it cannot say). Asked only on that path: a verify that runs pays nothing for it.
 * The hash compare runs over every byte of every candidate (no early exit), like timingSafeEqual.
 */
export const VERIFY_SCRIPT = `local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[12] ~= '0' and clock > tonumber(ARGV[12]) then
  local me = redis.pcall('CLUSTER', 'MYID')
  if type(me) ~= 'string' then
    local single = type(me) == 'table' and me.err and string.find(me.err, 'disabled', 1, true)
    return {'late', clock, single and 0 or 1}
  end
  local owners = {}
  local slots = redis.pcall('CLUSTER', 'SLOTS')
  if type(slots) == 'table' and not slots.err then
    for _, r in ipairs(slots) do
      owners[#owners + 1] = r[1]
      owners[#owners + 1] = r[2]
      owners[#owners + 1] = r[3][3]
    end
  end
  return {'late', clock, me, owners}
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'busy', clock} end
local now = tonumber(ARGV[4])
local threshold = tonumber(ARGV[6])
local hard = tonumber(ARGV[9])
local failures = tonumber(redis.call('GET', KEYS[5]) or '0') or 0
local failedAt = tonumber(redis.call('GET', KEYS[6]) or '0') or 0
if failures >= hard then return {'locked', clock, failures, failedAt} end
if failures >= threshold then
  local delay = math.min(tonumber(ARGV[8]), tonumber(ARGV[7]) * 2 ^ (failures - threshold))
  if failedAt + delay - now > 0 then return {'locked', clock, failures, failedAt} end
end
local raw = redis.call('GET', KEYS[2])
if not raw then return {'missing', clock} end
local f = {}
for n in string.gmatch(ARGV[11], '%d+') do f[#f + 1] = tonumber(n) end
local ok, c = pcall(cjson.decode, raw)
if not ok or type(c) ~= 'table' or #c ~= f[1] then return {'missing', clock} end
if ARGV[3] == '' or c[f[2]] ~= ARGV[1] or c[f[3]] ~= ARGV[2] or c[f[6]] ~= ARGV[3] then return {'missing', clock} end
local stored = c[f[4]]
local expiresAt = c[f[5]]
if type(stored) ~= 'string' or type(expiresAt) ~= 'number' then return {'missing', clock} end
if now >= expiresAt then return {'expired', clock} end
local attempts = redis.call('INCR', KEYS[4])
if attempts == 1 or redis.call('PTTL', KEYS[4]) == -1 then
  redis.call('PEXPIRE', KEYS[4], string.format('%d', math.max(1, math.ceil(expiresAt - now))))
end
if attempts > tonumber(ARGV[5]) then return {'exhausted', clock} end
local match = false
for i = 13, #ARGV do
  local h = ARGV[i]
  if #h == #stored then
    local diff = 0
    for j = 1, #h do diff = bit.bor(diff, bit.bxor(string.byte(h, j), string.byte(stored, j))) end
    if diff == 0 then match = true end
  end
end
if not match then
  local ttl = ARGV[10]
  local n = redis.call('INCR', KEYS[5])
  if n == 1 or redis.call('PTTL', KEYS[5]) == -1 then redis.call('PEXPIRE', KEYS[5], ttl) end
  redis.call('SET', KEYS[6], ARGV[4], 'PX', ttl)
  if n == hard then redis.call('SET', KEYS[5], tostring(n), 'PX', ttl) end
  return {'wrong', clock, attempts, n, raw}
end
local state = redis.call('GET', KEYS[3])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
return {'right', clock, 0, 0, raw, state}`;
