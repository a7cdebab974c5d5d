--- Rating answers: `:OrionRate up|down [comment]` -> `orion.feedback`.
---
--- The chat buffer marks each `## Orion` heading with the turn it belongs
--- to (an extmark, so the mark follows the text as the buffer grows). The
--- command rates the turn under the cursor in the chat buffer, or the last
--- turn shown when the cursor is elsewhere; a second rating of the same turn
--- replaces the first (the server keeps one `user_rating` per turn). The
--- rating is shown beside the heading.

local client_mod = require('orion.client')
local handlers = require('orion.handlers')

local M = {}

M.ns = vim.api.nvim_create_namespace('orion_turns')
local GLYPH = { up = '👍', down = '👎' }

--- buf -> extmark id -> turn id (nil until the turn id is known)
---@type table<integer, table<integer, string|false>>
local turns_of = {}

---@param buf integer
function M.clear(buf)
  vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  turns_of[buf] = {}
end

--- Mark a heading line (0-based row) as the answer of `turn_id` (may come later).
---@param buf integer
---@param row integer
---@param turn_id string?
---@return integer mark
function M.mark(buf, row, turn_id)
  local id = vim.api.nvim_buf_set_extmark(buf, M.ns, row, 0, {})
  turns_of[buf] = turns_of[buf] or {}
  turns_of[buf][id] = turn_id or false
  return id
end

---@param buf integer
---@param mark integer
---@param turn_id string
function M.bind(buf, mark, turn_id)
  if turns_of[buf] and turns_of[buf][mark] ~= nil then
    turns_of[buf][mark] = turn_id
  end
end

--- Marks of the buffer that know their turn, in buffer order: {row, id, turn_id}.
---@param buf integer
local function known(buf)
  local out = {}
  local ids = turns_of[buf] or {}
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(buf, M.ns, 0, -1, {})) do
    local turn_id = ids[m[1]]
    if turn_id then
      table.insert(out, { row = m[2], id = m[1], turn_id = turn_id })
    end
  end
  return out
end

--- The turn whose answer holds `row` (0-based): the last heading at or above it.
---@param buf integer
---@param row integer
---@return string? turn_id, integer? mark
function M.turn_at(buf, row)
  local found
  for _, m in ipairs(known(buf)) do
    if m.row <= row then
      found = m
    end
  end
  if found then
    return found.turn_id, found.id
  end
end

---@param buf integer
---@return string? turn_id, integer? mark
function M.last_turn(buf)
  local all = known(buf)
  local m = all[#all]
  if m then
    return m.turn_id, m.id
  end
end

---@param buf integer
---@param mark integer
---@param rating string
local function show_rating(buf, mark, rating)
  local pos = vim.api.nvim_buf_get_extmark_by_id(buf, M.ns, mark, {})
  if pos[1] then
    vim.api.nvim_buf_set_extmark(buf, M.ns, pos[1], 0, {
      id = mark,
      virt_text = { { ' ' .. GLYPH[rating], 'Comment' } },
      virt_text_pos = 'eol',
    })
  end
end

--- Send the rating of one turn.
---@param client vim.lsp.Client
---@param turn_id string
---@param rating 'up'|'down'
---@param comment string?
---@param done? fun(err: lsp.ResponseError?)
function M.rate(client, turn_id, rating, comment, done)
  local args = { turnId = turn_id, rating = rating }
  if comment and vim.trim(comment) ~= '' then
    args.comment = vim.trim(comment)
  end
  client_mod.exec(client, 'orion.feedback', args, function(err)
    if err then
      handlers.notify_error(err.message)
    else
      vim.notify(('Orion: rated %s %s'):format(turn_id:sub(1, 8), GLYPH[rating]), vim.log.levels.INFO)
    end
    if done then
      done(err)
    end
  end)
end

--- `:OrionRate up|down [comment]`
---@param opts {fargs: string[]}
function M.command(opts)
  local rating = opts.fargs[1]
  if rating ~= 'up' and rating ~= 'down' then
    vim.notify('Orion: usage: :OrionRate up|down [comment]', vim.log.levels.ERROR)
    return
  end
  local comment = table.concat(vim.list_slice(opts.fargs, 2), ' ')
  local buf = vim.api.nvim_get_current_buf()
  local client = client_mod.for_buffer(buf)
  if not client then
    vim.notify('Orion: no server for this buffer', vim.log.levels.INFO)
    return
  end
  local turn_id, mark, chat_buf
  if vim.b[buf].orion_root then
    chat_buf = buf
    turn_id, mark = M.turn_at(buf, vim.api.nvim_win_get_cursor(0)[1] - 1)
  else
    chat_buf = require('orion.chat').find_buffer(client.root_dir or vim.fn.getcwd())
  end
  if not turn_id and chat_buf then
    turn_id, mark = M.last_turn(chat_buf)
  end
  if not turn_id then
    vim.notify('Orion: no answer to rate yet', vim.log.levels.INFO)
    return
  end
  M.rate(client, turn_id, rating, comment, function(err)
    if not err and chat_buf and mark and vim.api.nvim_buf_is_valid(chat_buf) then
      show_rating(chat_buf, mark, rating)
    end
  end)
end

return M
