/**
 * `npm run pulumi -- ARGS`: the real Pulumi CLI with this project's toolchain (toolchain/), a
 * local file backend and no network (no update check, no plugin download).
 *
 * The Go module proxy does not serve `pulumi-language-nodejs`, so where it is not installed the
 * program runs in this process behind the SDK's own LanguageRuntime server (what the Automation
 * API does for inline programs, `--client`), and a Node.js policy pack starts through its
 * `run-pack` launcher. The CLI, the engine, the providers and the pack are the real ones.
 */
import { spawn } from "child_process";
import { existsSync, mkdirSync } from "fs";
import * as path from "path";
import { engineEnv, languageHost, pulumiCli, repoRoot } from "../toolchain";

/** Commands that run the program, so need a language host. */
const RUNS_PROGRAM = new Set(["preview", "pre", "up", "update", "destroy", "refresh"]);

export interface InProcessHost {
    readonly address: string;
    stop(hadError: boolean): void;
}

/** Modules a program run loaded: dropped before the next run, so every run registers afresh. */
const programModules = new Set<string>();

function loadProgram(programFile: string): unknown {
    for (const key of programModules) delete require.cache[key];
    programModules.clear();
    const before = new Set(Object.keys(require.cache));
    try {
        return require(programFile);
    } finally {
        for (const key of Object.keys(require.cache)) if (!before.has(key) && !key.includes(`${path.sep}node_modules${path.sep}`)) programModules.add(key);
    }
}

/**
 * Serves `program` as the language runtime the CLI connects to with `--client`. The program
 * module is required on the CLI's Run call, inside the SDK's per-run state.
 */
export async function startInProcessHost(programFile: string): Promise<InProcessHost> {
    // Loaded here, not at the top: the wrapper's other commands never load the SDK.
    const grpc: typeof import("@grpc/grpc-js") = require("@grpc/grpc-js");
    const { newLanguageRuntime }: typeof import("./sdkInternals") = require("./sdkInternals");
    const server = new grpc.Server({ "grpc.max_receive_message_length": 1 << 30 });
    const languageRuntime = newLanguageRuntime(() => loadProgram(programFile));
    server.addService(languageRuntime.definition, languageRuntime.implementation);
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return {
        address: `127.0.0.1:${port}`,
        stop(hadError: boolean) {
            try {
                languageRuntime.onPulumiExit(hadError);
            } finally {
                server.forceShutdown();
            }
        },
    };
}

/** `--policy-pack DIR` becomes `DIR/run-pack` where the CLI has no Node.js language host. */
export function policyPackArgs(args: readonly string[], cwd: string): string[] {
    const out = [...args];
    for (let i = 0; i < out.length; i++) {
        const flag = out[i];
        let dir: string | undefined;
        if (flag === "--policy-pack" && i + 1 < out.length) dir = out[++i];
        else if (flag.startsWith("--policy-pack=")) dir = flag.slice("--policy-pack=".length);
        if (dir === undefined) continue;
        const launcher = path.join(path.resolve(cwd, dir), "run-pack");
        if (!existsSync(launcher)) continue;
        if (flag === "--policy-pack") out[i] = launcher;
        else out[i] = `--policy-pack=${launcher}`;
    }
    return out;
}

export interface RunOptions {
    readonly cwd?: string;
    readonly env?: NodeJS.ProcessEnv;
    readonly programFile?: string;
    readonly stdio?: "inherit" | "pipe";
    readonly input?: string;
    /**
     * Bound on the run: past it the CLI and everything it started (provider plugins) get
     * SIGTERM, then SIGKILL, and the result has code 124. The CLI then runs in its own process
     * group, so that the whole group can be stopped.
     */
    readonly timeoutMs?: number;
}

export interface RunResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs the CLI once, with the in-process host when the command needs one and none is installed. */
export async function runPulumi(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const cli = pulumiCli();
    if (!cli) throw new Error("the Pulumi CLI is not built yet: run `npm run toolchain` first");
    const cwd = opts.cwd ?? repoRoot;
    const env = opts.env ?? engineEnv();
    // No default passphrase: one written here would encrypt a real stack's secrets (SSH keys,
    // kubeadm tokens) with a string anyone can read. Unset, the CLI asks, or fails when it cannot.
    // A local backend's folder must exist before the CLI opens it.
    if (env.PULUMI_BACKEND_URL?.startsWith("file://")) mkdirSync(env.PULUMI_BACKEND_URL.slice("file://".length), { recursive: true });
    let finalArgs = [...args];
    let host: InProcessHost | undefined;
    if (RUNS_PROGRAM.has(args[0] ?? "") && !languageHost(cli)) {
        host = await startInProcessHost(opts.programFile ?? path.join(repoRoot, "index.ts"));
        finalArgs = [...policyPackArgs(finalArgs, cwd), `--client=${host.address}`];
    }
    const bounded = opts.timeoutMs !== undefined;
    const child = spawn(cli, finalArgs, { cwd, env, detached: bounded, stdio: opts.stdio === "inherit" ? ["inherit", "inherit", "inherit"] : ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const killGroup = (signal: NodeJS.Signals) => {
        try {
            process.kill(-child.pid!, signal);
        } catch {
            // already gone
        }
    };
    const timers = bounded
        ? [
              setTimeout(() => {
                  timedOut = true;
                  killGroup("SIGTERM");
              }, opts.timeoutMs),
              setTimeout(() => killGroup("SIGKILL"), opts.timeoutMs! + 10_000),
          ]
        : [];
    child.stdout?.on("data", (d) => (stdout += d));
    child.stderr?.on("data", (d) => (stderr += d));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
    const code = await new Promise<number>((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    for (const t of timers) clearTimeout(t);
    // Plugins the CLI left behind (it was killed) go with their group.
    if (timedOut) killGroup("SIGKILL");
    host?.stop(code !== 0);
    return timedOut ? { code: 124, stdout, stderr: `${stderr}\npulumi ${args.join(" ")}: stopped after ${opts.timeoutMs} ms` } : { code, stdout, stderr };
}

if (require.main === module) {
    const args = process.argv.slice(2);
    const cli = pulumiCli();
    if (cli && RUNS_PROGRAM.has(args[0] ?? "") && !languageHost(cli)) {
        process.stderr.write("pulumi: no pulumi-language-nodejs here; the program runs in-process (--client) and the pack through its run-pack launcher\n");
    }
    runPulumi(args, { cwd: process.cwd(), stdio: "inherit" }).then(
        (r) => process.exit(r.code),
        (e: Error) => {
            process.stderr.write(`pulumi: ${e.message}\n`);
            process.exit(1);
        },
    );
}
