/**
 * Runs a step exactly as its component ships it (components/shipped.ts): the command line under
 * `sh -c`, as the SSH server runs it with the user's shell, and the script text on stdin. A
 * `sudo` stand-in first on PATH insists on `-n` (the program's commands must never wait for a
 * password) and runs the rest as this user; nothing else is changed.
 */
import { spawn, spawnSync } from "child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import type { ShippedCommand } from "../../components/shipped";
import { atRunEnd } from "../leakCheck";

export interface ShippedRun {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

const SUDO = `#!/bin/sh
[ "$1" = -n ] || { echo "sudo stand-in: called without -n: $*" >&2; exit 97; }
shift
exec "$@"
`;

let sudoDir: string | undefined;
/** One directory for the process, removed on exit. */
function sudoStandIn(): string {
    if (!sudoDir) {
        sudoDir = mkdtempSync(path.join(tmpdir(), "hacp-sudo-"));
        writeFileSync(path.join(sudoDir, "sudo"), SUDO);
        chmodSync(path.join(sudoDir, "sudo"), 0o755);
        const dir = sudoDir;
        // Kept for the whole run on purpose; released before the leak check looks.
        atRunEnd(() => {
            rmSync(dir, { recursive: true, force: true });
            sudoDir = undefined;
        });
    }
    return sudoDir;
}

function shippedEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    return { ...env, PATH: `${sudoStandIn()}:${env.PATH ?? process.env.PATH}` };
}

/** Which of the step's command lines to run. */
export type Action = "create" | "delete";

function commandLine(step: ShippedCommand, action: Action): string {
    const line = action === "create" ? step.create : step.delete;
    if (!line) throw new Error(`this step has no ${action} command`);
    return line;
}

/**
 * The step with one of its command lines edited, for a refusal of arguments the component never
 * builds (one missing, misspelt or left without its value): the shell, sudo and the script text
 * on stdin stay as shipped. Throws when the edit changes nothing, so a test cannot run the
 * unedited line by mistake.
 */
export function withEditedLine(step: ShippedCommand, edit: (line: string) => string, action: Action = "create"): ShippedCommand {
    const line = commandLine(step, action);
    const edited = edit(line);
    if (edited === line) throw new Error(`the edit left the ${action} line as it was: ${line}`);
    return action === "create" ? { ...step, create: edited } : { ...step, delete: edited };
}

/** Synchronous: for scripts that finish quickly or whose daemons run in other processes. */
export function runShipped(step: ShippedCommand, env: NodeJS.ProcessEnv, options: { action?: Action; timeoutMs?: number; stdinPrefix?: string } = {}): ShippedRun {
    const run = spawnSync("sh", ["-c", commandLine(step, options.action ?? "create")], {
        env: shippedEnv(env),
        encoding: "utf8",
        input: (options.stdinPrefix ?? "") + step.stdin,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
    });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Asynchronous: the test's own servers (HAProxy stand-ins, apiservers) keep answering meanwhile. */
export function runShippedAsync(step: ShippedCommand, env: NodeJS.ProcessEnv, options: { action?: Action; timeoutMs?: number } = {}): Promise<ShippedRun> {
    return new Promise((resolve, reject) => {
        const child = spawn("sh", ["-c", commandLine(step, options.action ?? "create")], { env: shippedEnv(env), stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ status: code, stdout, stderr });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(step.stdin);
    });
}
