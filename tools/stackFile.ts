/**
 * Reads a stack's config the way the Pulumi CLI would hand it to the program: project defaults
 * from Pulumi.yaml, values from Pulumi.<stack>.yaml. Secrets are never decrypted here: a secret
 * given in plain text is used (and marked secret), one that is encrypted or missing is replaced
 * by a placeholder marked secret, and the plan says which.
 */
import { existsSync, readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { RawConfig, SECRET_CONFIG_PATHS } from "@ha-control-plane/topology";

export interface StackConfig {
    readonly project: string;
    readonly stack: string;
    /** "project:key" to the string Pulumi passes (objects as JSON). */
    readonly config: Record<string, string>;
    readonly secretKeys: string[];
    /** The same values, parsed, for the pure layer. */
    readonly raw: RawConfig;
    /** What the plan should tell the reader about secrets it did not have. */
    readonly notes: string[];
}

type Yaml = Record<string, unknown>;

function isSecure(value: unknown): value is { secure: string } {
    return !!value && typeof value === "object" && typeof (value as Yaml).secure === "string";
}

/** Replaces every `secure:` leaf with a placeholder; returns whether any was found. */
function stripSecure(value: unknown, keyPath: string, notes: string[]): [unknown, boolean] {
    if (isSecure(value)) {
        notes.push(`${keyPath} is encrypted in the stack file; the plan uses a placeholder marked secret`);
        return [`placeholder-for-${keyPath}`, true];
    }
    if (Array.isArray(value)) {
        let any = false;
        const out = value.map((v, i) => {
            const [nv, s] = stripSecure(v, `${keyPath}[${i}]`, notes);
            any ||= s;
            return nv;
        });
        return [out, any];
    }
    if (value && typeof value === "object") {
        let any = false;
        const out: Yaml = {};
        for (const [k, v] of Object.entries(value as Yaml)) {
            const [nv, s] = stripSecure(v, `${keyPath}.${k}`, notes);
            any ||= s;
            out[k] = nv;
        }
        return [out, any];
    }
    return [value, false];
}

export interface LoadStackOptions {
    readonly projectDir: string;
    readonly stack?: string;
    /** Another stack file in the same format, instead of Pulumi.<stack>.yaml. */
    readonly configFile?: string;
    readonly targetPhase?: string;
}

export function loadStackConfig(options: LoadStackOptions): StackConfig {
    const projectFile = parse(readFileSync(path.join(options.projectDir, "Pulumi.yaml"), "utf8")) as Yaml;
    const project = String(projectFile.name);
    const stack = options.stack ?? "lab";
    const file = options.configFile ?? path.join(options.projectDir, `Pulumi.${stack}.yaml`);
    if (!existsSync(file)) throw new Error(`stack config file not found: ${file}`);
    const stackFile = (parse(readFileSync(file, "utf8")) ?? {}) as Yaml;
    const values = (stackFile.config ?? {}) as Yaml;

    const raw: Record<string, unknown> = {};
    const declared = (projectFile.config ?? {}) as Record<string, { default?: unknown }>;
    for (const [key, decl] of Object.entries(declared)) {
        if (decl && typeof decl === "object" && decl.default !== undefined) raw[key] = decl.default;
    }
    const notes: string[] = [];
    const secretTopKeys = new Set<string>();
    for (const [fullKey, value] of Object.entries(values)) {
        const [ns, ...rest] = fullKey.split(":");
        if (ns !== project || rest.length === 0) continue; // provider config etc. is not ours
        const key = rest.join(":");
        const [clean, hadSecure] = stripSecure(value, key, notes);
        if (hadSecure) secretTopKeys.add(key);
        raw[key] = clean;
    }
    if (options.targetPhase !== undefined) raw.targetPhase = options.targetPhase;

    // The secrets the program reads: given in plain text (kept, shown as [secret]) or missing.
    for (const secretPath of SECRET_CONFIG_PATHS) {
        const [top, field] = secretPath.split(".");
        const holder = raw[top];
        // An absent or empty optional section ({} = Pulumi.yaml's "not used") needs no secret.
        if (!holder || typeof holder !== "object" || Array.isArray(holder) || Object.keys(holder).length === 0) continue;
        const obj = holder as Yaml;
        if (obj[field] === undefined) {
            obj[field] = `placeholder-for-${secretPath}`;
            notes.push(`${secretPath} is not set; the plan uses a placeholder marked secret`);
        } else if (!notes.some((n) => n.startsWith(`${secretPath} `))) {
            notes.push(`${secretPath} is given in plain text in the stack file; it is used and shown as [secret] (prefer pulumi config set --secret)`);
        }
        secretTopKeys.add(top);
    }

    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(raw)) {
        config[`${project}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return {
        project,
        stack,
        config,
        secretKeys: [...secretTopKeys].map((k) => `${project}:${k}`),
        raw,
        notes,
    };
}
