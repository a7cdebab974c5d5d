--- Client-side handlers for what the Orion server pushes to the editor.
---
--- Implements the receiving end of the contract's notifications
--- (`orion/chatDelta`, `orion/toolEvent`, `orion/turnEnd`) by routing them to
--- the chat buffer, and wraps `window/showMessage` so server errors reach
--- `vim.notify` at ERROR level exactly once: the server sends a showMessage
--- Error with the same text as a failed request's message, and the user should
--- not see the same storage error twice.

local M = {}

-- Error texts recently shown through showMessage, text -> time (ms).
local recent = {}
local DEDUP_MS = 2000

local function now_ms()
  return vim.uv.now()
end

--- Show an error through vim.notify at ERROR level, unless the server already
--- showed exactly this text a moment ago.
---@param message string
function M.notify_error(message)
  local seen = recent[message]
  if seen and now_ms() - seen < DEDUP_MS then
    return
  end
  recent[message] = now_ms()
  vim.notify(message, vim.log.levels.ERROR, { title = 'Orion' })
end

---@param _ lsp.ResponseError?
---@param params lsp.ShowMessageParams
---@param ctx lsp.HandlerContext
local function show_message(_, params, ctx)
  if params and params.type == vim.lsp.protocol.MessageType.Error then
    M.notify_error(params.message)
    return vim.NIL
  end
  return vim.lsp.handlers['window/showMessage'](_, params, ctx)
end

local function chat()
  return require('orion.chat')
end

---@return table<string, lsp.Handler>
function M.client_handlers()
  return {
    ['orion/chatDelta'] = function(_, params, ctx)
      chat().on_delta(ctx.client_id, params)
    end,
    ['orion/toolEvent'] = function(_, params, ctx)
      chat().on_tool_event(ctx.client_id, params)
    end,
    ['orion/turnEnd'] = function(_, params, ctx)
      chat().on_turn_end(ctx.client_id, params)
    end,
    ['window/showMessage'] = show_message,
  }
end

return M
