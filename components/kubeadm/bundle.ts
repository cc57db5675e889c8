/**
 * How a script travels to its host: on stdin to `bash -s`, as one text. Scripts that source
 * lib.sh by hand (and python helpers they run) are shipped as one bundle: the libraries first,
 * then each helper as a function `hacp_embedded_<name>` printing its text (lib.sh's
 * `shipped_file` finds it), then the script itself. Every script ends with `main "$@"`, so bash
 * has parsed everything before any command runs and nothing reads the rest of stdin as input.
 */
import { createHash } from "crypto";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { scriptText } from "../scriptFile";

export interface BundleSpec {
    /** Sourced libraries, in order (paths under scripts/). */
    readonly libs?: readonly string[];
    /** Files the script writes out and runs, e.g. "kubeadm/patch-cluster-config.py"; a bundle spec embeds a bundle. */
    readonly embed?: readonly (string | { readonly name: string; readonly bundle: BundleSpec })[];
    /** The script that runs. */
    readonly main: string;
}

/** lib.sh's naming rule for an embedded file's function. */
export function embeddedFunctionName(fileName: string): string {
    return `hacp_embedded_${fileName.replace(/[^A-Za-z0-9]/g, "_")}`;
}

function withoutShebang(text: string): string {
    return text.startsWith("#!") ? text.slice(text.indexOf("\n") + 1) : text;
}

function embedded(name: string, text: string): string {
    const marker = `HACP_EOF_${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
    if (text.includes(marker)) throw new Error(`cannot embed ${name}: its text contains the heredoc marker`);
    const body = text.endsWith("\n") ? text : `${text}\n`;
    return `${embeddedFunctionName(name)}() {\ncat <<'${marker}'\n${body}${marker}\n}\n`;
}

export function bundleScript(spec: BundleSpec): string {
    const parts = [`#!/usr/bin/env bash\n# Bundle of ${[...(spec.libs ?? []), spec.main].join(", ")} (components/kubeadm/bundle.ts).\n`];
    for (const lib of spec.libs ?? []) parts.push(withoutShebang(scriptText(lib)));
    for (const file of spec.embed ?? []) {
        if (typeof file === "string") parts.push(embedded(path.basename(file), scriptText(file)));
        else parts.push(embedded(file.name, bundleScript(file.bundle)));
    }
    parts.push(withoutShebang(scriptText(spec.main)));
    return parts.join("\n");
}

/** POSIX single-quoting for values put into a shell line. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Secrets for a script as `export NAME='value'` lines, a secret for a RemoteStep's secretStdin
 * (which puts them after the script's #! line): they never appear in a command line (ps, logs,
 * the create/delete inputs), only in stdin, which is a secret input.
 */
export function secretEnvLines(env: Record<string, pulumi.Input<string>>): pulumi.Output<string> {
    const names = Object.keys(env);
    return pulumi.secret(pulumi.all(names.map((n) => env[n])).apply((values) => secretEnvText(Object.fromEntries(names.map((n, i) => [n, values[i]])))));
}

/** The text secretEnvLines makes, for known values. */
export function secretEnvText(values: Readonly<Record<string, string>>): string {
    const names = Object.keys(values);
    for (const name of names) if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`bad variable name ${name}`);
    return `${names.map((n) => `export ${n}=${shellQuote(values[n])}`).join("\n")}\n`;
}
