/**
 * Runs the real program (index.ts's two calls) under the recording monitor, with the lab stack
 * file as the base and per-test edits on top. Shared by the program, policy and plan tests.
 */
import { defineStack } from "../../components/stack";
import { readStackConfig } from "../../components/stackConfig";
import { PROJECT_DIR } from "../../tools/planModel";
import { recordProgram, Recording } from "../../tools/recorder";
import { loadStackConfig, StackConfig } from "../../tools/stackFile";

export type ConfigEdit = (raw: Record<string, unknown>) => void;

/** The lab stack's config, with `edit` applied to the parsed values. */
export function labConfig(targetPhase?: string, edit?: ConfigEdit): StackConfig {
    const base = loadStackConfig({ projectDir: PROJECT_DIR, stack: "lab", ...(targetPhase ? { targetPhase } : {}) });
    const raw = JSON.parse(JSON.stringify(base.raw)) as Record<string, unknown>;
    edit?.(raw);
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(raw)) {
        config[`${base.project}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return { ...base, raw, config };
}

/** Runs `program` under the recording monitor with a stack's config (the lab's by default). */
export function recordWithConfig(stack: StackConfig, program: () => unknown, options: { revealSecrets?: boolean } = {}): Promise<Recording> {
    return recordProgram({ project: stack.project, stack: stack.stack, config: stack.config, secretKeys: stack.secretKeys, program, ...options });
}

/** The real program (index.ts's two calls) on the lab stack with `edit` applied. */
export function recordLab(targetPhase?: string, edit?: ConfigEdit, options: { revealSecrets?: boolean } = {}): Promise<Recording> {
    return recordWithConfig(
        labConfig(targetPhase, edit),
        () => {
            const { topology, secrets } = readStackConfig();
            return defineStack(topology, secrets);
        },
        options,
    );
}

const cache = new Map<string, Promise<Recording>>();

/**
 * The unedited lab recording at a target phase, recorded once per test run: the policy specs
 * share it (each recording costs 100-300 ms). Treat it as read-only.
 */
export function cachedLab(targetPhase: string): Promise<Recording> {
    let recording = cache.get(targetPhase);
    if (!recording) {
        recording = recordLab(targetPhase);
        cache.set(targetPhase, recording);
    }
    return recording;
}

/** The last segment of a URN: the resource's name. */
export const nameOf = (urn: string): string => urn.split("::").pop() ?? urn;
