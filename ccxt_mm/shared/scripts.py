"""The Lua scripts that change the shared book, each run atomically by the Redis server.

Keys of a book named ``B``: ``B:epoch`` (when the book's keys were first written: a new epoch
says the server lost them, and every process waits until all have published again),
``B:parts`` (hash: market key → its part as JSON), ``B:claims:<asset>``
(hash: ``<market>|long`` and ``<market>|short`` → the claim granted, base units) and ``B:fills``
(stream: one entry per fill, ``market`` and ``fill`` as JSON; the market's key is published on
the channel of the same name as its fills are added, to wake the other processes).

A claim bounds what a market may commit: its ``position + resting_buy`` never above its long
claim, its ``position - resting_sell`` never below its short claim. The server grants a claim
only while the long claims of every market of the asset sum to at most the limit, and the
short ones to at least minus it; what a market has already committed is granted whatever the
others hold (it is on the exchange), and then leaves it no room; past that, a market's claim
reaches at most the limit divided by the markets claiming on the asset, so that no market
holds the others out (one that committed half the limit before the other claimed would
otherwise renew past it for good). So the sum of the positions,
every resting order counted as filled, stays within the limit whichever process quotes.
"""

from __future__ import annotations

from typing import Final

CLAIM: Final = """
-- KEYS[1] parts hash, KEYS[2] the asset's claims hash, KEYS[3] fills stream, KEYS[4] epoch
-- ARGV: market, part JSON, limit (base; < 0: none), need long, want long, need short,
--       want short, then fill JSONs to append to the stream
-- returns the long and the short claim granted, and the book's epoch
local epoch = redis.call('GET', KEYS[4])
if not epoch then
  local now = redis.call('TIME')
  epoch = now[1] .. '.' .. now[2]
  redis.call('SET', KEYS[4], epoch)
end
local market = ARGV[1]
redis.call('HSET', KEYS[1], market, ARGV[2])
for i = 8, #ARGV do
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '100000', '*', 'market', market, 'fill', ARGV[i])
end
if #ARGV >= 8 then
  redis.call('PUBLISH', KEYS[3], market)
end
local long_field, short_field = market .. '|long', market .. '|short'
local limit = tonumber(ARGV[3])
if limit < 0 then
  redis.call('HDEL', KEYS[2], long_field, short_field)
  return {'inf', '-inf', epoch}
end
local longs, shorts, markets = 0, 0, 1
local claims = redis.call('HGETALL', KEYS[2])
for i = 1, #claims, 2 do
  local field = claims[i]
  if field ~= long_field and field ~= short_field then
    if string.sub(field, -5) == '|long' then
      longs = longs + tonumber(claims[i + 1])
      markets = markets + 1
    else
      shorts = shorts + tonumber(claims[i + 1])
    end
  end
end
-- a market's claim reaches at most the limit's share per market (what it has committed is
-- granted whatever: it is on the exchange), so none holds the others out
local need_long, need_short, share = tonumber(ARGV[4]), tonumber(ARGV[6]), limit / markets
local long = math.max(need_long, math.min(tonumber(ARGV[5]), share, limit - longs))
local short = math.min(need_short, math.max(tonumber(ARGV[7]), -share, -limit - shorts))
local long_text, short_text = string.format('%.17g', long), string.format('%.17g', short)
redis.call('HSET', KEYS[2], long_field, long_text, short_field, short_text)
return {long_text, short_text, epoch}
"""
"""Publish a market's part (and its new fills), and grant its claims on the asset's limit."""
