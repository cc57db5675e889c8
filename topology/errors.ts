import type { ConfigIssue } from "./types";

function show(value: unknown): string {
    if (value === undefined) return "(missing)";
    return JSON.stringify(value);
}

export function formatIssue(issue: ConfigIssue): string {
    return `${issue.key} = ${show(issue.value)}: ${issue.rule}`;
}

/**
 * Every problem found in one pass, so a user fixes the whole file at once rather than one
 * error per run. Thrown before any resource is registered.
 */
export class ConfigError extends Error {
    constructor(readonly issues: readonly ConfigIssue[]) {
        super(
            `invalid stack config (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
                issues.map((i) => `  - ${formatIssue(i)}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}
