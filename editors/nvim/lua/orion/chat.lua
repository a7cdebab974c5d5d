--- The chat buffer: one markdown scratch buffer per project (workspace root).
---
--- Implements the editor side of `orion.chat` / `orion.history` /
--- `orion.cancel`: a turn's text streams in from `orion/chatDelta`, tool use
--- shows as one blockquote line per `orion/toolEvent`, and `orion/turnEnd` or a
--- failed request closes the turn with its status or error in place. The server
--- does the work; this module only renders what it is told.
---
--- One turn at a time per project: two turns streaming into one buffer would
--- interleave, and a thread's history is linear anyway.
---
--- The buffer shows one thread (`b:orion_thread`; `b:orion_new_thread` after
--- :OrionNew, until the first turn names it) and every turn command carries
--- its id. Each turn's heading carries an extmark with its turn id, so
--- commands can act on "the turn under the cursor" (lua/orion/rate.lua keeps
--- the marks; :OrionRate and :OrionRewind use them).

local client_mod = require('orion.client')
local handlers = require('orion.handlers')
local rate = require('orion.rate')

local M = {}

local REQUEST_CANCELLED = -32800

---@class orion.Turn
---@field request_id integer?
---@field turn_id string?
---@field streamed boolean  some assistant text arrived
---@field ended boolean     turnEnd (or the response) closed it
---@field cancel_requested boolean
---@field buf integer? the chat buffer it renders into
---@field adopted boolean? started elsewhere; closed by turnEnd
---@field detached boolean? ours, answered `running` at once; closed by turnEnd
---@field on_done fun(err: lsp.ResponseError?, result: table?)? called when a detached turn ends
---@field end_params table? its turnEnd, once arrived
---@field after_tool boolean? the buffer ends with tool lines and their blank separator
---@field mark integer? the extmark on its `## Orion` heading (orion.rate)

--- client_id -> running turn
---@type table<integer, orion.Turn>
local turns = {}

--- workspace root -> chat buffer
---@type table<string, integer>
local buffers = {}

--- Visible for tests and the statusline.
function M.running(client_id)
  return turns[client_id]
end

---@param root string
---@return integer? bufnr
function M.find_buffer(root)
  local buf = buffers[root]
  if buf and vim.api.nvim_buf_is_valid(buf) then
    return buf
  end
end

---@param client vim.lsp.Client
---@return integer bufnr, boolean created
local function get_buffer(client)
  local root = client.root_dir or vim.fn.getcwd()
  local buf = M.find_buffer(root)
  if buf then
    return buf, false
  end
  buf = vim.api.nvim_create_buf(false, true)
  -- Two projects may share a folder name (~/a/app, ~/b/app): number the second.
  local base = 'orion://chat/' .. vim.fs.basename(root)
  local name, n = base, 1
  while vim.fn.bufexists(name) == 1 do
    n = n + 1
    name = base .. '-' .. n
  end
  vim.api.nvim_buf_set_name(buf, name)
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'hide'
  vim.bo[buf].swapfile = false
  vim.bo[buf].modifiable = false
  vim.bo[buf].filetype = 'markdown'
  vim.b[buf].orion_root = root
  -- Tree-sitter markdown (bundled with Neovim) copes with streamed, half
  -- written markdown better than the regex syntax (no `_` error marks).
  pcall(vim.treesitter.start, buf, 'markdown')
  buffers[root] = buf
  return buf, true
end

--- The project's chat buffer, created when needed (not shown).
---@param client vim.lsp.Client
---@return integer bufnr
function M.buffer(client)
  return (get_buffer(client))
end

--- The thread the buffer shows, as `orion.chat` / `orion.history` keys.
---@param buf integer
---@return table
function M.thread_args(buf)
  if vim.b[buf].orion_new_thread then
    return { newThread = true }
  end
  local id = vim.b[buf].orion_thread
  return id and { threadId = id } or {}
end

--- Show the buffer in a window unless it already is visible.
---@param buf integer
local function show(buf)
  if vim.fn.bufwinid(buf) ~= -1 then
    return
  end
  local opts = require('orion.config').options.chat or {}
  local how = opts.open or 'vsplit'
  if how == 'tab' then
    vim.cmd('tabnew')
  elseif how == 'split' then
    vim.cmd((opts.size and tostring(opts.size) or '') .. 'split')
  elseif how == 'vsplit' then
    vim.cmd((opts.size and tostring(opts.size) or '') .. 'vsplit')
  end
  vim.api.nvim_win_set_buf(0, buf)
  vim.wo[0][0].wrap = true
  vim.wo[0][0].linebreak = true
end

--- Run `fn` with the buffer modifiable, keep windows that were at the end
--- following the new end (so a streamed answer scrolls like a terminal).
---@param buf integer
---@param fn fun()
local function edit(buf, fn)
  local followers = {}
  local last = vim.api.nvim_buf_line_count(buf)
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    if vim.api.nvim_win_get_cursor(win)[1] >= last then
      table.insert(followers, win)
    end
  end
  vim.bo[buf].modifiable = true
  local ok, err = pcall(fn)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
  local new_last = vim.api.nvim_buf_line_count(buf)
  for _, win in ipairs(followers) do
    pcall(vim.api.nvim_win_set_cursor, win, { new_last, 0 })
  end
  if not ok then
    error(err)
  end
end

---@param buf integer
local function is_empty(buf)
  return vim.api.nvim_buf_line_count(buf) == 1 and vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == ''
end

--- Append whole lines at the end (replacing the lone empty line of a new buffer).
---@param buf integer
---@param lines string[]
function M.append_lines(buf, lines)
  edit(buf, function()
    if is_empty(buf) then
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
    else
      vim.api.nvim_buf_set_lines(buf, -1, -1, false, lines)
    end
  end)
end

--- Append streamed text: continues the last line, newlines open new lines.
---@param buf integer
---@param text string
function M.append_text(buf, text)
  if text == '' then
    return
  end
  edit(buf, function()
    local parts = vim.split(text, '\n', { plain = true })
    local n = vim.api.nvim_buf_line_count(buf)
    local last = vim.api.nvim_buf_get_lines(buf, n - 1, n, false)[1] or ''
    parts[1] = last .. parts[1]
    vim.api.nvim_buf_set_lines(buf, n - 1, n, false, parts)
  end)
end

---@param buf integer
local function last_line(buf)
  local n = vim.api.nvim_buf_line_count(buf)
  return vim.api.nvim_buf_get_lines(buf, n - 1, n, false)[1] or ''
end

--- Lines of a markdown section for one message.
---@param role string
---@param content string
local function message_lines(role, content)
  local lines = { role == 'user' and '## You' or '## Orion' }
  vim.list_extend(lines, vim.split(content or '', '\n', { plain = true }))
  table.insert(lines, '')
  return lines
end

---@param buf integer
local function header(buf, project_id)
  local title = vim.b[buf].orion_thread_title
  if vim.b[buf].orion_new_thread then
    title = 'new chat'
  end
  return '# Orion: ' .. (project_id or '?') .. (title and title ~= '' and (' · ' .. title) or '')
end

---@param buf integer
---@param result {projectId: string, threadId?: string, messages: {role: string, content: string, turnId?: string, changedFiles?: string[]}[]}
local function render_history(buf, result)
  if result.threadId and result.threadId ~= vim.NIL then
    vim.b[buf].orion_thread = result.threadId
  end
  vim.b[buf].orion_project = result.projectId
  local lines = { header(buf, result.projectId), '' }
  local messages = result.messages or {}
  if #messages == 0 then
    vim.list_extend(lines, { '_No messages yet in this thread._', '' })
  end
  local headings = {} -- 0-based row of each answer's heading -> its turn
  for _, m in ipairs(messages) do
    if m.role == 'assistant' and type(m.turnId) == 'string' then
      headings[#lines] = m.turnId
    end
    vim.list_extend(lines, message_lines(m.role, m.content))
    if type(m.changedFiles) == 'table' and #m.changedFiles > 0 then
      table.insert(lines, #lines, '> changed ' .. table.concat(m.changedFiles, ', ') .. ' (:OrionRewind)')
    end
  end
  edit(buf, function()
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  end)
  rate.clear(buf)
  for row, turn_id in pairs(headings) do
    rate.mark(buf, row, turn_id)
  end
end

--- Mark the `## Orion` heading just appended (the buffer's last two lines are
--- it and a blank) as the answer of `turn`, for :OrionRate.
---@param buf integer
---@param turn orion.Turn
local function mark_heading(buf, turn)
  turn.mark = rate.mark(buf, vim.api.nvim_buf_line_count(buf) - 2, turn.turn_id)
end

--- Fetch `orion.history` and replace the chat buffer's content with it.
---@param client vim.lsp.Client
---@param opts? {limit?: integer, uri?: string, open?: boolean}
---@param done? fun(ok: boolean)
function M.history(client, opts, done)
  opts = opts or {}
  local buf = get_buffer(client)
  if opts.open ~= false then
    show(buf)
  end
  local args = {}
  if opts.limit then
    args.limit = opts.limit
  end
  if opts.uri then
    args.uri = opts.uri
  end
  if vim.b[buf].orion_new_thread then
    render_history(buf, { projectId = vim.b[buf].orion_project, messages = {} })
    if done then
      done(true)
    end
    return
  end
  args.threadId = vim.b[buf].orion_thread
  client_mod.exec(client, 'orion.history', args, function(err, result)
    if err then
      M.append_lines(buf, { '**Error:** ' .. err.message, '' })
      handlers.notify_error(err.message)
    else
      render_history(buf, result or {})
    end
    if done then
      done(err == nil)
    end
  end)
end

---@param buf integer
---@param turn orion.Turn
---@param status string
---@param error_text string?
local function close_turn(buf, turn, status, error_text)
  if turn.ended then
    return
  end
  turn.ended = true
  if turn.mark and turn.turn_id then
    rate.bind(buf, turn.mark, turn.turn_id)
  end
  local lines = {}
  if last_line(buf) ~= '' then
    table.insert(lines, '')
  end
  if status == 'cancelled' then
    table.insert(lines, '_(cancelled)_')
  elseif status == 'max_steps' then
    table.insert(lines, '_(stopped: the turn reached maxSteps)_')
  elseif status == 'error' or error_text then
    table.insert(lines, '**Error:** ' .. (error_text or 'the turn failed'))
  end
  if #lines > 0 and lines[#lines] ~= '' then
    table.insert(lines, '')
  end
  if #lines > 0 then
    M.append_lines(buf, lines)
  end
end

--- One line per edit the turn made (`> edit a.py: applied`).
---@param buf integer
---@param edits {path: string, applied: boolean}[]?
local function append_edits(buf, edits)
  local extra = {}
  for _, e in ipairs(edits or {}) do
    table.insert(extra, ('> edit %s: %s'):format(e.path, e.applied and 'applied' or 'not applied'))
  end
  if #extra > 0 then
    if last_line(buf) ~= '' then
      table.insert(extra, 1, '')
    end
    table.insert(extra, '')
    M.append_lines(buf, extra)
  end
end

--- A detached turn of ours has ended (its turnEnd arrived): free the project
--- for the next turn and tell the caller, with turnEnd as the result.
---@param client_id integer
---@param turn orion.Turn
---@param result table
local function finish_detached(client_id, turn, result)
  if turns[client_id] == turn then
    turns[client_id] = nil
  end
  if turn.buf and vim.api.nvim_buf_is_valid(turn.buf) and last_line(turn.buf) ~= '' then
    M.append_lines(turn.buf, { '' })
  end
  local on_done = turn.on_done
  turn.on_done = nil
  if on_done then
    on_done(nil, result)
  end
end

--- Send one turn. `args` is the `orion.chat` argument object
--- ({prompt, uri?, range?}) or, with opts.command, that command's object;
--- the answer streams into the project's chat buffer.
---@param client vim.lsp.Client
---@param args {prompt: string, uri?: string, range?: lsp.Range}
---@param on_done? fun(err: lsp.ResponseError?, result: table?)
---@param opts? {command?: string, label?: string} another turn-running command
---  (`orion.codeAction`) and what the "You" section shows for it
function M.send(client, args, on_done, opts)
  opts = opts or {}
  if turns[client.id] then
    vim.notify('Orion: a turn is already running (:OrionCancel to stop it)', vim.log.levels.WARN)
    return
  end
  local buf, created = get_buffer(client)
  show(buf)
  -- Registered at once (before the history of a new buffer arrives) so a
  -- second :OrionChat or :OrionCancel sees the turn.
  ---@type orion.Turn
  local turn = { streamed = false, ended = false, cancel_requested = false, buf = buf }
  turns[client.id] = turn
  local function start()
    if turn.cancel_requested then
      turns[client.id] = nil
      return
    end
    local lines = message_lines('user', opts.label or args.prompt or '')
    table.insert(lines, '## Orion')
    table.insert(lines, '')
    local heading = is_empty(buf) and 0 or vim.api.nvim_buf_line_count(buf)
    M.append_lines(buf, lines)
    mark_heading(buf, turn)
    args = vim.tbl_extend('keep', args, M.thread_args(buf))
    turn.request_id = client_mod.exec(client, opts.command or 'orion.chat', args, function(err, result)
      if not err and type(result) == 'table' and result.status == 'running' then
        -- Detached (code actions are, by default): the turn goes on; its
        -- turnEnd closes it, as for a turn this buffer did not start.
        turn.turn_id = turn.turn_id or result.turnId
        turn.detached = true
        turn.on_done = on_done
        if turn.ended then
          -- Its turnEnd came first (a turn that failed at once).
          append_edits(buf, turn.end_params and turn.end_params.edits)
          finish_detached(client.id, turn, turn.end_params or result)
        end
        return
      end
      if turns[client.id] == turn then
        turns[client.id] = nil
      end
      if err then
        if err.code == REQUEST_CANCELLED then
          close_turn(buf, turn, 'cancelled')
        else
          close_turn(buf, turn, 'error', err.message)
          handlers.notify_error(err.message)
        end
      else
        result = result or {}
        if type(result.threadId) == 'string' then
          vim.b[buf].orion_thread = result.threadId
          vim.b[buf].orion_new_thread = nil
        end
        turn.turn_id = turn.turn_id or result.turnId
        if not turn.streamed and type(result.answer) == 'string' and result.answer ~= '' then
          M.append_text(buf, result.answer)
        end
        append_edits(buf, result.edits)
        close_turn(buf, turn, result.status or 'completed')
      end
      if last_line(buf) ~= '' then
        M.append_lines(buf, { '' })
      end
      if on_done then
        on_done(err, result)
      end
    end)
    if not turn.request_id then
      turns[client.id] = nil
      close_turn(buf, turn, 'error', 'Orion: the request could not be sent (server stopped?)')
      handlers.notify_error('Orion: the request could not be sent (server stopped?)')
    end
  end
  if created then
    -- A new chat buffer starts with the workspace's history, then the turn.
    M.history(client, { open = false }, function()
      start()
    end)
  else
    start()
  end
end

--- The server exited: a running turn will get no more notifications (and
--- maybe no response), so close it in place and free the project for the next.
---@param client_id integer
function M.on_exit(client_id)
  local turn = turns[client_id]
  turns[client_id] = nil
  if turn and turn.buf and vim.api.nvim_buf_is_valid(turn.buf) and not turn.ended then
    close_turn(turn.buf, turn, 'error', 'the Orion server stopped during the turn')
  end
end

--- Stop the running turn: `orion.cancel` when the turn id is known, else
--- `$/cancelRequest` (both end the turn with status `cancelled`).
---@param client vim.lsp.Client
---@return boolean asked
function M.cancel(client)
  local turn = turns[client.id]
  if not turn then
    vim.notify('Orion: no turn is running', vim.log.levels.INFO)
    return false
  end
  turn.cancel_requested = true
  if not turn.request_id and not turn.turn_id then
    return true -- not sent yet: start() sees the flag and never sends it
  end
  if turn.turn_id then
    client_mod.exec(client, 'orion.cancel', { turnId = turn.turn_id }, function(err)
      if err then
        handlers.notify_error(err.message)
      end
    end)
  else
    client_mod.cancel_request(client, turn.request_id)
  end
  return true
end

--- The running turn of a client that a notification belongs to.
---@param client_id integer
---@param turn_id string?
---@return orion.Turn?, integer?
local function turn_for(client_id, turn_id)
  local client = vim.lsp.get_client_by_id(client_id)
  if not client then
    return nil
  end
  local turn = turns[client_id]
  if turn and turn.turn_id == nil and turn.request_id then
    turn.turn_id = turn_id -- the first notification names our request's turn
  end
  if not turn or (turn_id and turn.turn_id ~= turn_id) then
    if turn and not turn.ended then
      return nil -- ours is running: never mix two turns in one buffer
    end
    -- A turn this buffer did not start (a code action whose command runs on
    -- the server, a detached turn): show it too, under its own heading.
    turn = { turn_id = turn_id, streamed = false, ended = false, cancel_requested = false, adopted = true }
    local buf = get_buffer(client)
    turn.buf = buf
    turns[client_id] = turn
    show(buf)
    local lines = { '## Orion', '' }
    if last_line(buf) ~= '' then
      table.insert(lines, 1, '')
    end
    local heading = is_empty(buf) and 0 or (vim.api.nvim_buf_line_count(buf) + #lines - 2)
    M.append_lines(buf, lines)
    mark_heading(buf, turn)
  end
  local buf = M.find_buffer(client.root_dir or vim.fn.getcwd())
  if not buf then
    return nil
  end
  return turn, buf
end

function M.on_delta(client_id, params)
  local turn, buf = turn_for(client_id, params and params.turnId)
  if not turn or not buf or turn.ended then
    return
  end
  local delta = params.delta or ''
  if delta == '' then
    return
  end
  turn.streamed = true
  if turn.after_tool then
    -- Text after tool lines starts a new paragraph (the line below the
    -- blockquote is its blank separator).
    turn.after_tool = false
    M.append_lines(buf, { '' })
  end
  M.append_text(buf, delta)
end

--- One compact blockquote line per tool event, e.g. `> → read_file a.py`
--- then `> ✓ read_file: read a.py lines 1-2 of 2`.
---@param params {type: string, name?: string, ok?: boolean, summary?: string}
---@return string
function M.tool_line(params)
  local summary = type(params.summary) == 'string' and params.summary:gsub('\n', ' ') or ''
  local name = params.name or '?'
  if params.type == 'tool_call' then
    return '> → ' .. (summary ~= '' and summary or name)
  end
  local mark = params.ok == false and '✗' or '✓'
  return ('> %s %s%s'):format(mark, name, summary ~= '' and (': ' .. summary) or '')
end

function M.on_tool_event(client_id, params)
  local turn, buf = turn_for(client_id, params and params.turnId)
  if not turn or not buf or turn.ended then
    return
  end
  local line = M.tool_line(params)
  if turn.after_tool then
    -- Consecutive tool lines stay one block: replace the trailing separator.
    edit(buf, function()
      local n = vim.api.nvim_buf_line_count(buf)
      vim.api.nvim_buf_set_lines(buf, n - 1, n, false, { line, '' })
    end)
  else
    local lines = { line, '' }
    if last_line(buf) ~= '' then
      table.insert(lines, 1, '')
    end
    M.append_lines(buf, lines)
  end
  turn.after_tool = true
end

function M.on_turn_end(client_id, params)
  local turn, buf = turn_for(client_id, params and params.turnId)
  if not turn or not buf then
    return
  end
  if not turn.streamed and type(params.answer) == 'string' and params.answer ~= '' then
    turn.streamed = true
    M.append_text(buf, params.answer)
  end
  if turn.adopted or turn.detached then
    -- Only turnEnd reports the edits of a turn no response of ours closes.
    append_edits(buf, params.edits)
  end
  close_turn(buf, turn, params.status or 'completed', params.error)
  turn.end_params = params
  if turn.adopted then
    -- No response of ours will close it: turnEnd is the last word.
    turns[client_id] = nil
    if params.error then
      handlers.notify_error(params.error)
    end
  elseif turn.detached then
    if params.error then
      handlers.notify_error(params.error)
    end
    finish_detached(client_id, turn, params)
  end
end

return M
