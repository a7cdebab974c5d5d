--- Threads and rewind in Neovim: `:OrionNew`, `:OrionThreads`, `:OrionRewind`,
--- `:OrionForget`, `:OrionRename`.
---
--- The chat buffer shows one thread (lua/orion/chat.lua); these commands
--- choose which (`orion.threads` through `vim.ui.select`), start a new one,
--- rename or delete it (`orion.renameThread`, `orion.deleteThread`), and
--- rewind the turn under the cursor (`orion.rewind`, asked first with the
--- files named; the server restores them through `workspace/applyEdit`, so
--- `u` in each buffer brings the turn's version back).

local client_mod = require('orion.client')
local handlers = require('orion.handlers')

local M = {}

---@param fn fun(client: vim.lsp.Client, buf: integer)
local function with_chat(fn)
  client_mod.with_client(function(client)
    fn(client, require('orion.chat').buffer(client))
  end)
end

---@param client vim.lsp.Client
---@param command string
---@param args table
---@param on_result fun(result: table)
local function exec(client, command, args, on_result)
  client_mod.exec(client, command, args, function(err, result)
    if err then
      handlers.notify_error(err.message)
      return
    end
    on_result(result or {})
  end)
end

--- Ask yes/no through vim.ui.select (so any picker plugin shows it).
---@param prompt string
---@param yes string
---@param on_yes fun()
local function confirm(prompt, yes, on_yes)
  vim.ui.select({ yes, 'Cancel' }, { prompt = prompt, kind = 'orion.confirm' }, function(choice)
    if choice == yes then
      on_yes()
    end
  end)
end

---@param t {title: string, turns: integer, updatedAt: string}
function M.format_thread(t)
  local turns = ('%d turn%s'):format(t.turns or 0, t.turns == 1 and '' or 's')
  return ('%s  (%s, %s)'):format(t.title, turns, (t.updatedAt or ''):sub(1, 16):gsub('T', ' '))
end

---@param client vim.lsp.Client
---@param buf integer
---@param thread {threadId: string, title: string}?  nil: a new chat
function M.show(client, buf, thread)
  vim.b[buf].orion_new_thread = thread == nil or nil
  vim.b[buf].orion_thread = thread and thread.threadId or nil
  vim.b[buf].orion_thread_title = thread and thread.title or nil
  require('orion.chat').history(client)
end

--- :OrionNew — the chat buffer starts a new thread with the next prompt.
function M.new_chat()
  with_chat(function(client, buf)
    if require('orion.chat').running(client.id) then
      vim.notify('Orion: a turn is running (:OrionCancel first)', vim.log.levels.WARN)
      return
    end
    M.show(client, buf, nil)
  end)
end

--- :OrionThreads — pick a thread of the workspace to show and continue.
---@param on_done? fun(thread: table?)
function M.pick(on_done)
  with_chat(function(client, buf)
    exec(client, 'orion.threads', {}, function(result)
      local threads = result.threads or {}
      if #threads == 0 then
        vim.notify('Orion: no threads yet in this workspace', vim.log.levels.INFO)
        return
      end
      vim.ui.select(threads, {
        prompt = 'Orion threads',
        kind = 'orion.thread',
        format_item = M.format_thread,
      }, function(choice)
        if choice then
          M.show(client, buf, choice)
        end
        if on_done then
          on_done(choice)
        end
      end)
    end)
  end)
end

--- :OrionRename {title} — rename the thread shown.
---@param title string
function M.rename(title)
  with_chat(function(client, buf)
    local id = vim.b[buf].orion_thread
    if not id or vim.b[buf].orion_new_thread then
      vim.notify('Orion: this chat has no thread yet (ask something first)', vim.log.levels.INFO)
      return
    end
    local function send(text)
      if not text or vim.trim(text) == '' then
        return
      end
      exec(client, 'orion.renameThread', { threadId = id, title = text }, function(result)
        vim.b[buf].orion_thread_title = result.title
        require('orion.chat').history(client, { open = false })
      end)
    end
    if title and title ~= '' then
      send(title)
    else
      vim.ui.input({ prompt = 'Thread title: ', default = vim.b[buf].orion_thread_title }, send)
    end
  end)
end

--- :OrionForget — delete the thread shown (asked first): Orion forgets it.
function M.forget()
  with_chat(function(client, buf)
    local id = vim.b[buf].orion_thread
    if not id or vim.b[buf].orion_new_thread then
      vim.notify('Orion: this chat has no stored thread to forget', vim.log.levels.INFO)
      return
    end
    local title = vim.b[buf].orion_thread_title or id
    confirm(
      ('Forget the thread "%s"? Its messages, traces and checkpoints are deleted.'):format(title),
      'Forget',
      function()
        exec(client, 'orion.deleteThread', { threadId = id }, function()
          vim.notify(('Orion: forgot the thread "%s"'):format(title), vim.log.levels.INFO)
          -- Show the latest remaining thread (the server's default).
          vim.b[buf].orion_thread = nil
          vim.b[buf].orion_thread_title = nil
          require('orion.chat').history(client)
        end)
      end
    )
  end)
end

---@param r {restored: {path: string, applied: boolean, note?: string}[], rewoundTurns: string[]}
function M.rewind_summary(r)
  local lines = {}
  for _, f in ipairs(r.restored or {}) do
    table.insert(lines, ('%s %s%s'):format(f.applied and 'restored' or 'NOT restored', f.path, f.note and (': ' .. f.note) or ''))
  end
  local n = #(r.rewoundTurns or {})
  table.insert(lines, 1, n > 0 and ('Orion: rewound %d turn%s'):format(n, n == 1 and '' or 's') or 'Orion: the turns were not rewound')
  return table.concat(lines, '\n')
end

--- :OrionRewind [turnId] — the turn under the cursor in the chat buffer (and
--- the later turns of its thread) go back, files and conversation.
---@param turn_id? string
function M.rewind(turn_id)
  with_chat(function(client, buf)
    local chat = require('orion.chat')
    if not turn_id and vim.api.nvim_get_current_buf() == buf then
      turn_id = require('orion.rate').turn_at(buf, vim.api.nvim_win_get_cursor(0)[1] - 1)
    end
    if not turn_id then
      vim.notify('Orion: put the cursor on a turn in the chat buffer (or give its id)', vim.log.levels.WARN)
      return
    end
    exec(client, 'orion.rewind', { turnId = turn_id, dryRun = true }, function(plan)
      local files = plan.files or {}
      local conflicts = plan.conflicts or {}
      local n = #(plan.rewoundTurns or {})
      local prompt = ('Rewind %d turn%s and restore %s?'):format(
        n,
        n == 1 and '' or 's',
        #files > 0 and table.concat(files, ', ') or 'no file'
      )
      if #conflicts > 0 then
        prompt = prompt .. (' %s changed since: rewinding overwrites it (u undoes).'):format(table.concat(conflicts, ', '))
      end
      confirm(prompt, #conflicts > 0 and 'Rewind anyway' or 'Rewind', function()
        exec(client, 'orion.rewind', { turnId = turn_id, force = #conflicts > 0 }, function(result)
          local ok = #(result.rewoundTurns or {}) > 0
          vim.notify(M.rewind_summary(result), ok and vim.log.levels.INFO or vim.log.levels.WARN)
          chat.history(client, { open = false })
        end)
      end)
    end)
  end)
end

function M.create_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd('OrionNew', M.new_chat, { nargs = 0, desc = 'Start a new Orion thread in the chat buffer' })
  cmd('OrionThreads', function()
    M.pick()
  end, { nargs = 0, desc = "Choose one of this workspace's Orion threads" })
  cmd('OrionRewind', function(opts)
    M.rewind(opts.args ~= '' and opts.args or nil)
  end, { nargs = '?', desc = 'Rewind the Orion turn under the cursor (files and conversation)' })
  cmd('OrionForget', M.forget, { nargs = 0, desc = 'Delete the Orion thread shown (asks first)' })
  cmd('OrionRename', function(opts)
    M.rename(opts.args)
  end, { nargs = '*', desc = 'Rename the Orion thread shown' })
end

return M
