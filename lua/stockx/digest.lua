--- stockx.digest: SHA-256 (FIPS 180-4) and base64 (RFC 4648, with the
-- URL-safe unpadded form) in pure Lua.  Shared by the client (PKCE code
-- challenges for `stockx login`) and the sandbox (checking them, JWTs).

local M = {}

local SHA_K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
  0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
  0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
local M32 = 0xffffffff

local function rrot(x, n)
  return ((x >> n) | (x << (32 - n))) & M32
end

-- One 64-byte block at offset at of msg into the state h[1..8].
local function sha_block(h, msg, at)
  local w = {}
  for i = 1, 16 do w[i] = string.unpack(">I4", msg, at + (i - 1) * 4) end
  for i = 17, 64 do
    local a, b = w[i - 15], w[i - 2]
    local s0 = rrot(a, 7) ~ rrot(a, 18) ~ (a >> 3)
    local s1 = rrot(b, 17) ~ rrot(b, 19) ~ (b >> 10)
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & M32
  end
  local a, b, c, d, e, f, g, k = h[1], h[2], h[3], h[4], h[5], h[6], h[7],
    h[8]
  for i = 1, 64 do
    local s1 = rrot(e, 6) ~ rrot(e, 11) ~ rrot(e, 25)
    local t1 = (k + s1 + ((e & f) ~ (~e & g)) + SHA_K[i] + w[i]) & M32
    local s0 = rrot(a, 2) ~ rrot(a, 13) ~ rrot(a, 22)
    local t2 = (s0 + ((a & b) ~ (a & c) ~ (b & c))) & M32
    k, g, f, e, d, c, b, a = g, f, e, (d + t1) & M32, c, b, a, (t1 + t2) & M32
  end
  local v = { a, b, c, d, e, f, g, k }
  for i = 1, 8 do h[i] = (h[i] + v[i]) & M32 end
end

--- The SHA-256 digest of s (32 raw bytes).
function M.sha256(s)
  local h = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f,
              0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
  local msg = s .. "\128" .. string.rep("\0", (55 - #s) % 64)
    .. string.pack(">I8", #s * 8)
  for at = 1, #msg, 64 do sha_block(h, msg, at) end
  return string.pack(">I4I4I4I4I4I4I4I4", table.unpack(h))
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.b64encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    for j = 3, 0, -1 do
      local k = (n >> (j * 6)) & 63
      out[#out + 1] = B64:sub(k + 1, k + 1)
    end
    if not c then out[#out] = "=" end
    if not b then out[#out - 1] = "=" end
  end
  return table.concat(out)
end

--- base64url without padding (JWT segments).
function M.b64url(s)
  return (M.b64encode(s):gsub("[+/=]", { ["+"] = "-", ["/"] = "_",
                                         ["="] = "" }))
end

function M.b64decode(s)
  if #s % 4 ~= 0 or s:find("[^%w+/=]") then return nil end
  local out = {}
  for i = 1, #s, 4 do
    local n, pad = 0, 0
    for j = i, i + 3 do
      local ch = s:sub(j, j)
      local k = B64:find(ch, 1, true)
      if ch == "=" then pad = pad + 1; k = 1 end
      n = (n << 6) | (k - 1)
    end
    out[#out + 1] = string.char((n >> 16) & 255, (n >> 8) & 255, n & 255)
      :sub(1, 3 - pad)
  end
  return table.concat(out)
end

return M
