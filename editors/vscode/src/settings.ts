/**
 * Settings -> how the server is started and what it is told.
 *
 * Pure (no `vscode` import) so the mapping the server relies on is unit
 * tested: the flat `initializationOptions` / `workspace/configuration` object,
 * the server command line, and the process environment, which is the only
 * place the API key may go (docs/protocol.md#settings).
 */
export interface OrionSettings {
  serverPath: string;
  pythonPath: string;
  serverArgs: string[];
  model: string;
  apiBase: string;
  criticModel: string;
  databasePath: string;
  historyLimit: number;
  maxSteps: number;
  contextTokens: number;
}

/** The keys the server understands, in its spelling (docs/protocol.md#settings). */
export interface ServerOptions {
  model?: string;
  apiBase?: string;
  criticModel?: string;
  databasePath?: string;
  historyLimit?: number;
  maxSteps?: number;
  contextTokens?: number;
  /** VS Code's Workspace Trust: only a trusted workspace may run its test command. */
  workspaceTrusted?: boolean;
}

export const DEFAULTS: OrionSettings = {
  serverPath: "",
  pythonPath: "",
  serverArgs: [],
  model: "",
  apiBase: "",
  criticModel: "",
  databasePath: "",
  historyLimit: 20,
  maxSteps: 12,
  contextTokens: 4096,
};

/** Anything with a `get(key)` such as a `WorkspaceConfiguration`. */
export interface ConfigLike {
  get<T>(key: string): T | undefined;
}

export function readSettings(config: ConfigLike): OrionSettings {
  const str = (key: keyof OrionSettings): string => {
    const v = config.get<unknown>(key);
    return typeof v === "string" ? v.trim() : (DEFAULTS[key] as string);
  };
  const int = (key: keyof OrionSettings): number => {
    const v = config.get<unknown>(key);
    return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : (DEFAULTS[key] as number);
  };
  const args = config.get<unknown>("serverArgs");
  return {
    serverPath: str("serverPath"),
    pythonPath: str("pythonPath"),
    serverArgs: Array.isArray(args) ? args.filter((a): a is string => typeof a === "string") : [],
    model: str("model"),
    apiBase: str("apiBase"),
    criticModel: str("criticModel"),
    databasePath: str("databasePath"),
    historyLimit: int("historyLimit"),
    maxSteps: int("maxSteps"),
    contextTokens: int("contextTokens"),
  };
}

/**
 * The object sent as `initializationOptions` and as the `orion` section of
 * `workspace/configuration`. Empty strings are left out: the server layers
 * settings over its defaults, so an empty `apiBase` must mean "unset", not
 * "the empty URL". Client-only keys (server path, interpreter) never go.
 * `trusted` is VS Code's Workspace Trust for the open folder: the server runs
 * the workspace's `[eval] test_command` at a turn's end only when it is true.
 */
export function toServerOptions(s: OrionSettings, trusted = false): ServerOptions {
  const out: ServerOptions = { workspaceTrusted: trusted };
  if (s.model) out.model = s.model;
  if (s.apiBase) out.apiBase = s.apiBase;
  if (s.criticModel) out.criticModel = s.criticModel;
  if (s.databasePath) out.databasePath = s.databasePath;
  out.historyLimit = s.historyLimit;
  out.maxSteps = s.maxSteps;
  out.contextTokens = s.contextTokens;
  return out;
}

export interface ServerCommand {
  command: string;
  args: string[];
}

/**
 * `serverPath` wins, then `<pythonPath> -m orion_lsp`, then `orion-lsp` on
 * PATH; `serverArgs` (e.g. `--log-file F`) follow.
 */
export function serverCommand(s: OrionSettings): ServerCommand {
  if (s.serverPath) return { command: s.serverPath, args: [...s.serverArgs] };
  if (s.pythonPath) return { command: s.pythonPath, args: ["-m", "orion_lsp", ...s.serverArgs] };
  return { command: "orion-lsp", args: [...s.serverArgs] };
}

/**
 * The server's environment: ours plus the key from SecretStorage. A key that
 * is already in our environment is kept when no secret is stored, so a user
 * who exports ORION_API_KEY in a shell still works.
 */
export function serverEnv(
  base: Record<string, string | undefined>,
  apiKey: string | undefined,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  if (apiKey) env.ORION_API_KEY = apiKey;
  return env;
}

/** Settings whose change needs a new server process (they fix its command or env). */
export const RESTART_KEYS: readonly (keyof OrionSettings)[] = [
  "serverPath",
  "pythonPath",
  "serverArgs",
  "databasePath",
];
