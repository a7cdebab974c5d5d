"""`orion acp`: the Agent Client Protocol front end (docs/protocol.md#acp-front-end).

A second front end beside the language server over the same composition root
(`services.open_services`): the same orchestrator, tools, repo map, database,
threads and history. An ACP session is a thread; its `sessionId` is the
thread id, so a conversation started in Zed continues in VS Code or `orion
chat --thread`. The wire protocol is the maintained Python SDK's
(`agent-client-protocol`, imported as `acp`); nothing here writes JSON-RPC by
hand, and nothing but ACP JSON reaches stdout.

- `agent.OrionAcpAgent`: the ACP methods (initialize, session/new, load, list,
  prompt, cancel), one error boundary.
- `bridge`: what a turn sees of the ACP client: `AcpSink` (answer chunks),
  `ReportingTool` (tool_call / tool_call_update with kind, locations, diffs;
  reads through the client's `fs/read_text_file`), `AcpEditApplier`
  (`session/request_permission`, then `fs/write_text_file` or the disk).
"""
