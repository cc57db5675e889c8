/**
 * A stack for the real Pulumi CLI (toolchain/, tools/pulumi.ts): a project directory with
 * Pulumi.yaml and the stack's config file, a local file backend, both in a temp dir; the
 * program is a .ts file inside the repository (so it resolves node_modules), run in-process
 * behind the SDK's language server.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { stringify } from "yaml";
import { engineEnv, pulumiCli } from "../../../toolchain";
import { runPulumi, RunResult } from "../../../tools/pulumi";

export function requirePulumiCli(): string {
    const cli = pulumiCli();
    if (!cli) throw new Error("the Pulumi CLI is not built: run `npm run toolchain` first");
    return cli;
}

export class EngineStack {
    readonly dir: string;
    readonly projectDir: string;
    readonly env: NodeJS.ProcessEnv;

    private constructor(readonly project: string, readonly stack: string, readonly programFile: string) {
        requirePulumiCli();
        this.dir = mkdtempSync(path.join(tmpdir(), "hacp-engine-stack-"));
        this.projectDir = path.join(this.dir, "project");
        mkdirSync(this.projectDir);
        this.env = engineEnv({ backendUrl: `file://${path.join(this.dir, "state")}`, passphrase: "ha-control-plane-test-stack" });
    }

    /** A project with `config` (plain values, by key without the project prefix) and `secrets` (set encrypted). */
    static async create(opts: {
        project: string;
        stack: string;
        programFile: string;
        config: Record<string, unknown>;
        secrets?: Record<string, string>;
    }): Promise<EngineStack> {
        const s = new EngineStack(opts.project, opts.stack, opts.programFile);
        try {
            writeFileSync(path.join(s.projectDir, "Pulumi.yaml"), stringify({ name: opts.project, runtime: { name: "nodejs", options: { typescript: true } } }));
            await s.ok(["stack", "init", opts.stack, "--non-interactive"]);
            const config = Object.fromEntries(Object.entries(opts.config).map(([k, v]) => [`${opts.project}:${k}`, v]));
            writeFileSync(path.join(s.projectDir, `Pulumi.${opts.stack}.yaml`), stringify({ config }));
            for (const [key, value] of Object.entries(opts.secrets ?? {})) {
                // The value on stdin: it never appears in a command line.
                await s.ok(["config", "set", "--secret", "--path", key], value);
            }
            return s;
        } catch (err) {
            s.cleanup();
            throw err;
        }
    }

    /** One CLI command on this stack, bounded (the CLI and its plugins are stopped after 10 min). */
    run(args: readonly string[], input?: string): Promise<RunResult> {
        const withStack = args[0] === "stack" && args[1] === "init" ? [...args] : [...args, "--stack", this.stack];
        return runPulumi([...withStack, "--non-interactive", "--color", "never"], {
            cwd: this.projectDir,
            env: this.env,
            programFile: this.programFile,
            timeoutMs: 600_000,
            ...(input !== undefined ? { input } : {}),
        });
    }

    async ok(args: readonly string[], input?: string): Promise<RunResult> {
        const r = await this.run(args, input);
        if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
        return r;
    }

    cleanup(): void {
        rmSync(this.dir, { recursive: true, force: true });
    }
}
