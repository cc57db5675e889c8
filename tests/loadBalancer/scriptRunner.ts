/** Runs a script of scripts/ asynchronously (the tests' load keeps flowing meanwhile), bounded. */
import { spawn } from "child_process";
import * as path from "path";
import { SCRIPTS_DIR } from "../../components/scriptFile";

export interface ScriptResult {
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

export interface RunOptions {
    readonly stdin?: string;
    readonly env?: Record<string, string>;
    readonly timeoutMs?: number;
}

/** `command args...` with stdin, killed after timeoutMs. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<ScriptResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
        child.stdout?.on("data", (d) => (stdout += d));
        child.stderr?.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
        });
        if (child.stdin) {
            // A command may exit without reading its stdin (EPIPE): that is its answer, not ours to fail on.
            child.stdin.on("error", () => undefined);
            child.stdin.end(options.stdin);
        }
    });
}

export const scriptPath = (relative: string): string => path.join(SCRIPTS_DIR, relative);
