/**
 * Checks the Dockerfile where there is no Docker engine: executes its stages in temp dirs and
 * runs the image's command from the result.
 *
 *   node scripts/dockerfile-steps.ts   execute the stages, run the image's entrypoint with
 *                                      `--help`, print the application layer size, clean up
 *
 * Each stage gets a fresh folder standing in for its filesystem root: WORKDIR /app is
 * <stage>/app, COPY takes from the build context (this repository, less .dockerignore) or from an
 * earlier stage's folder, RUN runs `/bin/sh -c` there with the stage's ENV. The base image,
 * node:<major>-bookworm-slim, is approximated by this machine with the Node that runs this
 * script (its major must match the tag) and the system npm.
 *
 * Only the instructions this Dockerfile uses are understood; any other one, and any form of a
 * known one that is not handled (flags, shell-form ENTRYPOINT, variable substitution, wildcards,
 * heredocs), is an error naming its line, so this check cannot drift silently from the file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, copyFile, cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DOCKERFILE_PATH = join(REPO_ROOT, 'Dockerfile');

/** The only base image this check can stand in for; the capture is Node's major version. */
const BASE_IMAGE = /^node:(\d+)-bookworm-slim$/;
/** ENV PATH of the official node images; the running Node's folder goes in front of it. */
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Users of the official node images, as user:group ids. */
const IMAGE_USERS: Readonly<Record<string, readonly [number, number]>> = {
  root: [0, 0],
  node: [1000, 1000],
};
/** What this machine needs to reach the npm registry; a real build gets it from the daemon. */
const PASSED_THROUGH = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'NODE_EXTRA_CA_CERTS'];
const KNOWN = 'FROM, WORKDIR, COPY, RUN, ENV, USER, EXPOSE, HEALTHCHECK, ENTRYPOINT, CMD';

// ---------------------------------------------------------------------------------------------
// Parsing

/** One instruction after line continuations are joined; `line` is where it starts. */
export interface Instruction {
  line: number;
  keyword: string;
  args: string;
}

export type Step =
  | { kind: 'WORKDIR'; line: number; path: string }
  | { kind: 'COPY'; line: number; from?: string; sources: string[]; dest: string }
  | { kind: 'RUN'; line: number; command: string }
  | { kind: 'ENV'; line: number; vars: [string, string][] }
  | { kind: 'USER'; line: number; user: string };

export interface HealthCheck {
  line: number;
  /** Exec form, run as is (no entrypoint, no shell). */
  argv: string[];
  /** --interval, --timeout, ... as written. */
  options: Record<string, string>;
  /** --timeout in ms (Docker's default: 30 s): a check running longer has failed. */
  timeoutMs: number;
}

export interface Stage {
  index: number;
  name?: string;
  base: string;
  line: number;
  /** The instructions that change the filesystem or the build state, in order. */
  steps: Step[];
  expose: string[];
  healthcheck?: HealthCheck;
  entrypoint?: string[];
  cmd?: string[];
}

export class DockerfileError extends Error {
  constructor(line: number, message: string) {
    super(`Dockerfile:${line}: ${message}`);
    this.name = 'DockerfileError';
  }
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions(text)) {
    if (instruction.keyword === 'FROM') stages.push(parseFrom(instruction, stages.length));
    else {
      const stage = stages.at(-1);
      if (!stage)
        throw new DockerfileError(
          instruction.line,
          `${instruction.keyword} before FROM is not handled`,
        );
      addInstruction(stage, instruction);
    }
  }
  if (stages.length === 0) throw new DockerfileError(1, 'no FROM: not a Dockerfile');
  return stages;
}

/** Joins `\` continuations and drops comments, blank lines and parser directives. */
export function instructions(text: string): Instruction[] {
  const result: Instruction[] = [];
  let pending: Instruction | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (/^\s*#\s*escape\s*=/i.test(line) && result.length === 0 && !pending)
      throw new DockerfileError(i + 1, 'the escape directive is not handled');
    if (/^\s*(#|$)/.test(line)) return;
    const continued = /\\[ \t]*$/.test(line);
    const body = continued ? line.replace(/\\[ \t]*$/, '') : line;
    if (pending) pending.args += body;
    else {
      const match = /^\s*(\S+)\s*(.*)$/s.exec(body) as RegExpExecArray;
      pending = { line: i + 1, keyword: (match[1] as string).toUpperCase(), args: match[2] ?? '' };
    }
    if (continued) return;
    result.push({ ...pending, args: pending.args.trim() });
    pending = undefined;
  });
  if (pending) throw new DockerfileError(pending.line, 'the file ends inside a continuation');
  return result;
}

function parseFrom({ line, args }: Instruction, index: number): Stage {
  const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
  if (!match || args.startsWith('--')) throw new DockerfileError(line, `FROM ${args}: not handled`);
  const base = match[1] as string;
  if (!BASE_IMAGE.test(base))
    throw new DockerfileError(line, `FROM ${base}: only node:<major>-bookworm-slim is emulated`);
  const stage: Stage = { index, base, line, steps: [], expose: [] };
  if (match[2] !== undefined) stage.name = match[2].toLowerCase();
  return stage;
}

function addInstruction(stage: Stage, instruction: Instruction): void {
  const { keyword, line, args } = instruction;
  if (keyword === 'RUN' || keyword === 'COPY' || keyword === 'WORKDIR' || keyword === 'USER')
    unhandledForms(instruction, keyword === 'RUN' ? ['exec', 'heredoc'] : FORMS);
  switch (keyword) {
    case 'WORKDIR':
      return void stage.steps.push({ kind: 'WORKDIR', line, path: args });
    case 'COPY':
      return void stage.steps.push(parseCopy(instruction));
    case 'RUN':
      if (args.startsWith('--')) throw new DockerfileError(line, 'RUN flags are not handled');
      return void stage.steps.push({ kind: 'RUN', line, command: args });
    case 'ENV':
      unhandledForms(instruction, ['variable']);
      return void stage.steps.push({ kind: 'ENV', line, vars: parseEnv(instruction) });
    case 'USER':
      return void stage.steps.push({ kind: 'USER', line, user: args });
    case 'EXPOSE':
      return void stage.expose.push(...parseExpose(instruction));
    case 'HEALTHCHECK':
      stage.healthcheck = parseHealthcheck(instruction);
      return;
    case 'ENTRYPOINT':
      stage.entrypoint = execForm(instruction);
      return;
    case 'CMD':
      stage.cmd = execForm(instruction);
      return;
    default:
      throw new DockerfileError(line, `${keyword} is not one of ${KNOWN}: teach this script it`);
  }
}

const FORMS = ['variable', 'exec', 'heredoc'] as const;
const FORM_PATTERNS = { variable: /\$/, exec: /^\[/, heredoc: /<</ };
const FORM_NAMES = {
  variable: 'variable substitution',
  exec: 'the exec form',
  heredoc: 'a heredoc',
};

/** Variables, JSON (exec) forms and heredocs would each need handling this script lacks. */
function unhandledForms(
  { line, keyword, args }: Instruction,
  forms: readonly (typeof FORMS)[number][],
) {
  const form = forms.find((f) => FORM_PATTERNS[f].test(args));
  if (form)
    throw new DockerfileError(line, `${keyword} ${args}: ${FORM_NAMES[form]} is not handled`);
}

function parseCopy({ line, args }: Instruction): Step {
  const words = args.split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift() as string;
    const match = /^--from=(\S+)$/.exec(flag);
    if (!match) throw new DockerfileError(line, `COPY ${flag}: only --from is handled`);
    from = (match[1] as string).toLowerCase();
  }
  const dest = words.pop();
  if (!dest || words.length === 0)
    throw new DockerfileError(line, 'COPY needs a source and a dest');
  if (words.some((w) => /[*?[]/.test(w)))
    throw new DockerfileError(line, 'COPY with wildcards is not handled');
  if (words.length > 1 && !dest.endsWith('/'))
    throw new DockerfileError(line, 'COPY with several sources needs a dest ending in /');
  return from === undefined
    ? { kind: 'COPY', line, sources: words, dest }
    : { kind: 'COPY', line, from, sources: words, dest };
}

/** `ENV K=V K2="V 2"` or the legacy `ENV K value with spaces`. */
export function parseEnv({ line, args }: Instruction): [string, string][] {
  const legacy = /^([^\s=]+)\s+(.*)$/s.exec(args);
  if (legacy) return [[legacy[1] as string, (legacy[2] as string).trim()]];
  return shellWords(args, line).map((word) => {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new DockerfileError(line, `ENV ${word}: expected NAME=value`);
    return [word.slice(0, eq), word.slice(eq + 1)];
  });
}

/** Splits on unquoted whitespace; quotes group, a backslash escapes (not inside '...'). */
function shellWords(text: string, line: number): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\' && quote !== "'" && i + 1 < text.length) word = (word ?? '') + text[++i];
    else if (quote && c === quote) quote = undefined;
    else if (!quote && (c === '"' || c === "'")) {
      quote = c;
      word ??= '';
    } else if (quote || !/\s/.test(c)) word = (word ?? '') + c;
    else if (word !== undefined) {
      words.push(word);
      word = undefined;
    }
  }
  if (quote) throw new DockerfileError(line, `unterminated ${quote}`);
  if (word !== undefined) words.push(word);
  return words;
}

function parseExpose({ line, args }: Instruction): string[] {
  const ports = args.split(/\s+/);
  const bad = ports.find((p) => !/^\d+(\/(tcp|udp))?$/.test(p));
  if (bad !== undefined) throw new DockerfileError(line, `EXPOSE ${bad}: not a port`);
  return ports;
}

function parseHealthcheck(instruction: Instruction): HealthCheck {
  const { line, args } = instruction;
  const match = /^((?:--[a-z-]+=\S+\s+)*)CMD\s+(.*)$/s.exec(args);
  if (!match) throw new DockerfileError(line, `HEALTHCHECK ${args}: expected [--opt=value...] CMD`);
  const options: Record<string, string> = {};
  for (const option of (match[1] as string).trim().split(/\s+/).filter(Boolean)) {
    const [name = '', value = ''] = option.slice(2).split('=');
    if (!['interval', 'timeout', 'start-period', 'start-interval', 'retries'].includes(name))
      throw new DockerfileError(line, `HEALTHCHECK --${name}: not a HEALTHCHECK option`);
    options[name] = value;
  }
  const argv = execForm({ ...instruction, keyword: 'HEALTHCHECK CMD', args: match[2] as string });
  const timeoutMs = durationMs(options.timeout ?? '30s', line);
  return { line, argv, options, timeoutMs };
}

/** Docker durations as HEALTHCHECK takes them: 1m30s, 3s, 500ms. */
export function durationMs(text: string, line: number): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)];
  if (parts.map((p) => p[0]).join('') !== text || parts.length === 0)
    throw new DockerfileError(line, `${text}: not a duration`);
  return parts.reduce((ms, p) => ms + Number(p[1]) * (units[p[2] as string] as number), 0);
}

/** The JSON array form; the shell form would run through /bin/sh and is not handled. */
function execForm({ line, keyword, args }: Instruction): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || parsed.some((a) => typeof a !== 'string'))
    throw new DockerfileError(
      line,
      `${keyword} ${args}: only the exec form ["...", ...] is handled`,
    );
  return parsed as string[];
}

// ---------------------------------------------------------------------------------------------
// .dockerignore

export interface IgnoreRule {
  pattern: RegExp;
  exception: boolean;
}

/** Docker's rules: paths from the context root, `*` within one segment, `**` across them. */
export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const exception = l.startsWith('!');
      const cleaned = posix.normalize(exception ? l.slice(1).trim() : l).replace(/^\/+|\/+$/g, '');
      return { pattern: globToRegExp(cleaned), exception };
    });
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (glob.startsWith('**/', i)) [source, i] = [source + '(?:.*/)?', i + 2];
    else if (glob.startsWith('**', i)) [source, i] = [source + '.*', i + 1];
    else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '\\' && i + 1 < glob.length) source += escapeRegExp(glob[++i] as string);
    else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`);
}

function escapeRegExp(c: string): string {
  return c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}

/** Whether a context path (relative, `/`-separated) is left out; a rule on a folder covers it. */
export function isIgnored(rules: readonly IgnoreRule[], path: string): boolean {
  const segments = path.split('/');
  const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules)
    if (prefixes.some((p) => rule.pattern.test(p))) ignored = !rule.exception;
  return ignored;
}

// ---------------------------------------------------------------------------------------------
// Executing the stages

export interface BuiltStage {
  stage: Stage;
  /** The folder standing in for the stage's `/`. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
}

export interface Build {
  /** Holds one folder per stage; removeBuild deletes it. */
  workspace: string;
  stages: BuiltStage[];
  final: BuiltStage;
  ms: number;
}

export interface BuildOptions {
  context?: string;
  /** One line per instruction executed, with its time. */
  log?: (line: string) => void;
}

interface BuildContext {
  context: string;
  ignore: IgnoreRule[];
  workspace: string;
  built: BuiltStage[];
  log: (line: string) => void;
}

/** Where Docker's base image is approximated: printed before a build, so nobody is misled. */
export function baseImageNote(stages: readonly Stage[]): string {
  const bases = [...new Set(stages.map((s) => s.base))].join(', ');
  return `base image ${bases} approximated by this machine (${process.platform} ${process.arch}) with Node ${process.version} (${process.execPath}) and the system npm`;
}

export async function executeStages(stages: Stage[], options: BuildOptions = {}): Promise<Build> {
  const started = performance.now();
  checkNodeMajor(stages);
  const context = options.context ?? REPO_ROOT;
  const ignoreFile = join(context, '.dockerignore');
  const ignore = existsSync(ignoreFile) ? parseDockerignore(readFileSync(ignoreFile, 'utf8')) : [];
  const workspace = await mkdtemp(join(tmpdir(), 'dockerfile-steps-'));
  // Another user (USER node) must be able to reach the final stage, as in the image.
  await chmod(workspace, 0o755);
  const ctx: BuildContext = { context, ignore, workspace, built: [], log: options.log ?? noop };
  try {
    for (const stage of stages) ctx.built.push(await executeStage(stage, ctx));
  } catch (err) {
    await rm(workspace, { recursive: true, force: true });
    throw err;
  }
  const final = ctx.built.at(-1) as BuiltStage;
  return { workspace, stages: ctx.built, final, ms: performance.now() - started };
}

function noop(): void {}

function checkNodeMajor(stages: readonly Stage[]): void {
  const running = process.versions.node.split('.')[0];
  for (const stage of stages) {
    const major = (BASE_IMAGE.exec(stage.base) as RegExpExecArray)[1];
    if (major !== running)
      throw new DockerfileError(
        stage.line,
        `FROM ${stage.base}: run this check with Node ${major} (this is Node ${process.version}), or it does not stand in for the image`,
      );
  }
}

async function executeStage(stage: Stage, ctx: BuildContext): Promise<BuiltStage> {
  const label = stage.name ?? `stage ${stage.index}`;
  const root = join(ctx.workspace, `${stage.index}-${stage.name ?? 'unnamed'}`);
  await mkdir(root);
  const state: BuiltStage = { stage, root, workdir: '/', env: {} };
  ctx.log(`[${label}] FROM ${stage.base}`);
  for (const step of stage.steps) {
    const started = performance.now();
    await executeStep(step, state, ctx);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    ctx.log(`[${label}] ${describeStep(step)} (${seconds} s)`);
  }
  return state;
}

function describeStep(step: Step): string {
  switch (step.kind) {
    case 'WORKDIR':
      return `WORKDIR ${step.path}`;
    case 'COPY':
      return `COPY ${step.from ? `--from=${step.from} ` : ''}${step.sources.join(' ')} ${step.dest}`;
    case 'RUN':
      return `RUN ${step.command}`;
    case 'ENV':
      return `ENV ${step.vars.map(([k, v]) => `${k}=${v}`).join(' ')}`;
    case 'USER':
      return `USER ${step.user}`;
  }
}

async function executeStep(step: Step, state: BuiltStage, ctx: BuildContext): Promise<void> {
  switch (step.kind) {
    case 'WORKDIR':
      state.workdir = posix.resolve(state.workdir, step.path);
      await mkdir(hostPath(state.root, state.workdir), { recursive: true });
      return;
    case 'COPY':
      return copyStep(step, state, ctx);
    case 'RUN':
      if (state.user !== undefined)
        throw new DockerfileError(step.line, 'RUN after USER is not emulated (it runs as root)');
      return runStep(step, state);
    case 'ENV':
      for (const [name, value] of step.vars) state.env[name] = value;
      return;
    case 'USER':
      state.user = step.user;
      return;
  }
}

/** The host path of an absolute path inside a stage; `..` cannot climb out of its root. */
export function hostPath(root: string, containerPath: string): string {
  return join(root, posix.resolve('/', containerPath));
}

type CopyStep = Extract<Step, { kind: 'COPY' }>;

async function copyStep(step: CopyStep, state: BuiltStage, ctx: BuildContext): Promise<void> {
  const dest = hostPath(state.root, posix.resolve(state.workdir, step.dest));
  const fromContext = step.from === undefined;
  for (const source of step.sources) {
    const path = fromContext ? contextSource(step, source, ctx) : stageSource(step, source, ctx);
    if (statSync(path).isDirectory()) {
      await mkdir(dest, { recursive: true });
      // verbatimSymlinks: node_modules/.bin links are relative and must stay so.
      const filter = fromContext ? ignoreFilter(ctx) : undefined;
      await cp(path, dest, { recursive: true, verbatimSymlinks: true, force: true, filter });
    } else await copyFileInto(path, dest, step.dest.endsWith('/'));
  }
}

async function copyFileInto(path: string, dest: string, intoFolder: boolean): Promise<void> {
  const folder = intoFolder || (existsSync(dest) && statSync(dest).isDirectory());
  const target = folder ? join(dest, basename(path)) : dest;
  await mkdir(dirname(target), { recursive: true });
  await copyFile(path, target);
  await chmod(target, statSync(path).mode & 0o7777);
}

function contextSource(step: CopyStep, source: string, ctx: BuildContext): string {
  const rel = posix.normalize(source).replace(/^\/+|\/+$/g, '') || '.';
  if (rel.startsWith('..'))
    throw new DockerfileError(step.line, `COPY ${source}: outside the context`);
  const path = join(ctx.context, rel);
  if (!existsSync(path)) throw new DockerfileError(step.line, `COPY ${source}: not in the context`);
  if (rel !== '.' && isIgnored(ctx.ignore, rel))
    throw new DockerfileError(step.line, `COPY ${source}: excluded by .dockerignore`);
  return path;
}

function stageSource(step: CopyStep, source: string, ctx: BuildContext): string {
  const from = step.from as string;
  const stage = ctx.built.find((b) => b.stage.name === from || String(b.stage.index) === from);
  if (!stage)
    throw new DockerfileError(step.line, `COPY --from=${from}: no earlier stage of that name`);
  const path = hostPath(stage.root, source);
  if (!existsSync(path))
    throw new DockerfileError(step.line, `COPY --from=${from} ${source}: not in that stage`);
  return path;
}

/** With exceptions (`!pattern`), an ignored folder may hold files that are not: look inside. */
function ignoreFilter(ctx: BuildContext): (source: string) => boolean {
  const hasExceptions = ctx.ignore.some((r) => r.exception);
  return (source) => {
    const rel = relative(ctx.context, source).split('\\').join('/');
    if (rel === '' || !isIgnored(ctx.ignore, rel)) return true;
    return hasExceptions && statSync(source).isDirectory();
  };
}

/** The build's environment: the image's PATH with this Node in front, and the stage's ENV. */
export function buildEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  const passed: Record<string, string> = {};
  for (const name of PASSED_THROUGH.flatMap((n) => [n, n.toLowerCase()])) {
    const value = process.env[name];
    if (value !== undefined) passed[name] = value;
  }
  // HOME keeps npm's cache and registry settings: a real first build downloads everything.
  return { ...passed, HOME: process.env.HOME ?? '/root', ...imageEnv(env) };
}

function imageEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  return { PATH: `${dirname(process.execPath)}:${IMAGE_PATH}`, ...env };
}

/** Shell form runs `/bin/sh -c`, which on bookworm is dash (bash would let bashisms through). */
async function runStep(step: Extract<Step, { kind: 'RUN' }>, state: BuiltStage): Promise<void> {
  const cwd = hostPath(state.root, state.workdir);
  const result = await runProcess({
    argv: ['/bin/sh', '-c', step.command],
    cwd,
    env: buildEnv(state.env),
  });
  if (result.code !== 0)
    throw new DockerfileError(
      step.line,
      `RUN ${step.command} exited with ${result.code ?? result.signal}:\n${tail(result.output)}`,
    );
}

// ---------------------------------------------------------------------------------------------
// Running the image

/** A process as the container would start it, mapped onto the final stage's folder. */
export interface ImageProcess {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Set when USER can be honoured (this script runs as root); otherwise the current user. */
  uid?: number;
  gid?: number;
}

/** ENTRYPOINT + CMD, or ENTRYPOINT + args as `docker run image args...` would. */
export function imageCommand(
  build: Build,
  options: { args?: string[]; env?: Record<string, string> } = {},
): ImageProcess {
  const { stage } = build.final;
  if (!stage.entrypoint)
    throw new DockerfileError(
      stage.line,
      'the final stage has no ENTRYPOINT (the base one is not emulated)',
    );
  return imageProcess(
    build.final,
    [...stage.entrypoint, ...(options.args ?? stage.cmd ?? [])],
    options.env,
  );
}

/** HEALTHCHECK CMD as the engine runs it inside the container, and its --timeout. */
export function healthcheckCommand(
  build: Build,
  env: Record<string, string> = {},
): ImageProcess & { timeoutMs: number } {
  const { healthcheck, line } = build.final.stage;
  if (!healthcheck) throw new DockerfileError(line, 'the final stage has no HEALTHCHECK');
  return { ...imageProcess(build.final, healthcheck.argv, env), timeoutMs: healthcheck.timeoutMs };
}

function imageProcess(
  stage: BuiltStage,
  argv: string[],
  extra: Record<string, string> = {},
): ImageProcess {
  const mapped = argv.map((arg) => mapPath(stage, arg));
  const base = {
    argv: mapped,
    cwd: hostPath(stage.root, stage.workdir),
    env: { ...imageEnv(stage.env), ...extra },
  };
  const ids = runAs(stage);
  return ids ? { ...base, uid: ids[0], gid: ids[1] } : base;
}

/** `/app/dist/cli/main.js` (under WORKDIR) is `<stage>/app/dist/cli/main.js` here. */
function mapPath(stage: BuiltStage, arg: string): string {
  const { workdir, root } = stage;
  return workdir !== '/' && (arg === workdir || arg.startsWith(`${workdir}/`))
    ? hostPath(root, arg)
    : arg;
}

/** USER's ids when this process may switch to them (as root), else undefined. */
export function runAs(stage: BuiltStage): readonly [number, number] | undefined {
  if (stage.user === undefined || process.getuid?.() !== 0) return undefined;
  const [user = '', group] = stage.user.split(':');
  const known = IMAGE_USERS[user];
  const uid = known ? known[0] : Number(user);
  const gid = group !== undefined ? Number(group) : known ? known[1] : uid;
  if (!Number.isInteger(uid) || !Number.isInteger(gid))
    throw new Error(`USER ${stage.user}: only ${Object.keys(IMAGE_USERS).join(', ')} or ids`);
  return [uid, gid];
}

export function spawnImage(proc: ImageProcess): ChildProcess {
  const [file = '', ...args] = proc.argv;
  return spawn(file, args, {
    cwd: proc.cwd,
    env: proc.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(proc.uid === undefined ? {} : { uid: proc.uid, gid: proc.gid }),
  });
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr, interleaved as they came. */
  output: string;
}

/** Runs to completion; past timeoutMs it is killed (SIGKILL) and reported so. */
export function runProcess(proc: ImageProcess, timeoutMs = 0): Promise<ProcessResult> {
  const child = spawnImage(proc);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const killer = timeoutMs > 0 ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : undefined;
  return new Promise((resolve, reject) => {
    child.once('error', (err) => (clearTimeout(killer), reject(err)));
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, output });
    });
  });
}

export function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Size on disk (du) of the final stage: what the image adds on top of its base. */
export async function layerMiB(build: Build): Promise<number> {
  const du = await runProcess({
    argv: ['du', '-sk', build.final.root],
    cwd: build.workspace,
    env: { PATH: IMAGE_PATH },
  });
  if (du.code !== 0) throw new Error(`du failed: ${du.output}`);
  return Number.parseInt(du.output, 10) / 1024;
}

export async function removeBuild(build: Build | undefined): Promise<void> {
  if (build) await rm(build.workspace, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// CLI

async function main(): Promise<number> {
  const stages = parseDockerfile(readFileSync(DOCKERFILE_PATH, 'utf8'));
  console.log(baseImageNote(stages));
  const build = await executeStages(stages, { log: (line) => console.log(line) });
  try {
    console.log(`stages executed in ${(build.ms / 1000).toFixed(1)} s`);
    const command = imageCommand(build, { args: ['--help'] });
    const who = command.uid === undefined ? 'the current user' : `uid ${command.uid}`;
    console.log(`entrypoint: ${command.argv.join(' ')} (as ${who})`);
    const help = await runProcess(command, 30_000);
    if (help.code !== 0) {
      console.error(
        `the entrypoint exited with ${help.code ?? help.signal}:\n${tail(help.output)}`,
      );
      return 1;
    }
    console.log(`  exit 0: ${help.output.split('\n')[0] ?? ''}`);
    const mib = (await layerMiB(build)).toFixed(1);
    console.log(
      `application layer size: ${mib} MiB (du of the final stage); the image adds the base image (~${build.final.stage.base})`,
    );
    return 0;
  } finally {
    await removeBuild(build);
  }
}

if (import.meta.main) {
  main().then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(err instanceof DockerfileError ? err.message : err);
      process.exitCode = 1;
    },
  );
}
