--- Client-side handlers for what the Orion server pushes to the editor.
---
--- Implements the receiving end of the server's notifications
--- (`orion/chatDelta`, `orion/toolEvent`, `orion/turnEnd`; docs/protocol.md#notifications) by routing them to
--- the chat buffer, and wraps `window/showMessage` so server errors reach
--- `vim.notify` at ERROR level once per failure, not twice.

local M = {}

-- The server reports a failed request twice: a showMessage Error and the
-- response's error, with exactly the same text, in either order. Each side
-- leaves a token the other consumes, so one failure is one notification and
-- a repeated failure (the user retries) is notified again.
local from_server = {} ---@type table<string, integer> showMessage texts not yet matched
local from_request = {} ---@type table<string, integer> request errors not yet matched

local function take(tbl, message)
  local n = tbl[message]
  if n and n > 0 then
    tbl[message] = n > 1 and n - 1 or nil
    return true
  end
  return false
end

local function put(tbl, message)
  tbl[message] = (tbl[message] or 0) + 1
end

local function notify(message)
  vim.notify(message, vim.log.levels.ERROR, { title = 'Orion' })
end

--- A request failed: show its message at ERROR level unless the server's
--- showMessage for this same failure was already shown.
---@param message string
function M.notify_error(message)
  if take(from_server, message) then
    return
  end
  put(from_request, message)
  notify(message)
end

---@param _ lsp.ResponseError?
---@param params lsp.ShowMessageParams
---@param ctx lsp.HandlerContext
local function show_message(_, params, ctx)
  if params and params.type == vim.lsp.protocol.MessageType.Error then
    if not take(from_request, params.message) then
      put(from_server, params.message)
      notify(params.message)
    end
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
