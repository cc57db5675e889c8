/**
 * STAND-IN provider plugins for the packages the Go module proxy refuses to serve here
 * (toolchain/pins.json: command, random, proxmoxve), so the real engine can run `pulumi up` and
 * `pulumi preview` on stacks that hold their resources. Nothing is run, dialled or created: a
 * create answers with the offline plan's stand-in outputs (tools/stubs.ts), every call is logged
 * as one JSON line to $HACP_STAND_IN_LOG.
 *
 * The diff is the real provider's rule, so what the engine plans from it is what it would plan
 * with the real plugin:
 *   command    `triggers` is replaceOnChanges (pulumi-command's ResourceInputs); any other
 *              change is an update (the update command, or create again)
 *   random     every input forces a new value (the bridged provider's ForceNew)
 *   proxmoxve  any change is reported as a replacement: most VM and file inputs force a new
 *              resource in the bridged provider, so a test on these sees every change as the
 *              worst it can be
 *
 *   pulumi-resource-NAME ENGINE_ADDRESS  ->  node standInProvider.ts NAME ENGINE_ADDRESS
 */
import { appendFileSync, chmodSync, mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { pins, repoRoot } from "../../../toolchain";
import { stubOutputs } from "../../../tools/stubs";

export const STAND_IN_PACKAGES = ["command", "random", "proxmoxve"] as const;
export type StandInPackage = (typeof STAND_IN_PACKAGES)[number];

type Props = Record<string, unknown>;

/** The engine's marker for a secret on the wire (sdk/go/common/resource/sig). */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";

/** A value with its secret wrappers taken off, for comparing old and new. */
function plain(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(plain);
    if (value && typeof value === "object") {
        const o = value as Props;
        if (SECRET_SIG_KEY in o) return plain(o.value);
        return Object.fromEntries(Object.keys(o).sort().map((k) => [k, plain(o[k])]));
    }
    return value;
}

const typeOf = (urn: string): string => urn.split("::")[2].split("$").pop()!;
const nameOf = (urn: string): string => urn.split("::").pop()!;

/** Keys a create adds to the inputs (stdout, result, ...): outputs, never compared as inputs. */
const INPUTS_KEY = "__standInInputs";

/** The input keys whose value differs between the last applied inputs and the new ones. */
export function changedKeys(oldInputs: Props, news: Props): string[] {
    const keys = new Set([...Object.keys(oldInputs), ...Object.keys(news)]);
    return [...keys].filter((k) => JSON.stringify(plain(oldInputs[k])) !== JSON.stringify(plain(news[k]))).sort();
}

/** Which changed keys replace the resource, by the real provider's rule (see the header). */
export function replacingKeys(pkg: StandInPackage, changed: readonly string[]): string[] {
    switch (pkg) {
        case "command":
            return changed.filter((k) => k === "triggers");
        case "random":
        case "proxmoxve":
            return [...changed];
    }
}

function log(entry: Props): void {
    const file = process.env.HACP_STAND_IN_LOG;
    if (file) appendFileSync(file, `${JSON.stringify(entry)}\n`);
}

function provider(pkg: StandInPackage) {
    const outputsFor = (urn: string, inputs: Props) => {
        const { id, extra } = stubOutputs(typeOf(urn), nameOf(urn), inputs);
        return { id, outs: { ...inputs, ...extra, [INPUTS_KEY]: inputs } };
    };
    return {
        version: pins.plugins[pkg].version,
        async check(_urn: string, _olds: Props, news: Props) {
            return { inputs: news };
        },
        async diff(id: string, urn: string, olds: Props, news: Props) {
            const changed = changedKeys((olds[INPUTS_KEY] as Props | undefined) ?? {}, news);
            const replaces = replacingKeys(pkg, changed);
            log({ call: "diff", pkg, urn, id, changed, replaces });
            return { changes: changed.length > 0, replaces };
        },
        async create(urn: string, inputs: Props) {
            log({ call: "create", pkg, urn });
            return outputsFor(urn, inputs);
        },
        async read(id: string, _urn: string, props: Props) {
            return { id, props };
        },
        async update(id: string, urn: string, olds: Props, news: Props) {
            log({ call: "update", pkg, urn, id, changed: changedKeys((olds[INPUTS_KEY] as Props | undefined) ?? {}, news) });
            return { outs: outputsFor(urn, news).outs };
        },
        async delete(id: string, urn: string) {
            log({ call: "delete", pkg, urn, id });
        },
    };
}

/**
 * A folder of `pulumi-resource-NAME` launchers for the stand-ins, to put first on the CLI's
 * PATH (the engine takes a plugin it finds there). Removed with `dir`.
 */
export function standInPluginDir(dir = mkdtempSync(path.join(tmpdir(), "hacp-stand-in-plugins-"))): string {
    const tsx = path.join(repoRoot, "node_modules", ".bin", "tsx");
    for (const pkg of STAND_IN_PACKAGES) {
        const launcher = path.join(dir, `pulumi-resource-${pkg}`);
        writeFileSync(launcher, `#!/bin/sh\nexec '${tsx}' '${__filename}' ${pkg} "$@"\n`);
        chmodSync(launcher, 0o755);
    }
    return dir;
}

if (require.main === module) {
    const [pkg, ...engineArgs] = process.argv.slice(2);
    if (!(STAND_IN_PACKAGES as readonly string[]).includes(pkg)) {
        process.stderr.write(`standInProvider: no stand-in for ${pkg} (${STAND_IN_PACKAGES.join(", ")})\n`);
        process.exit(2);
    }
    // Loaded here: the launcher runs only this, the tests import the rules above without the server.
    const pulumi: typeof import("@pulumi/pulumi") = require("@pulumi/pulumi");
    pulumi.provider.main(provider(pkg as StandInPackage), engineArgs).catch((e: Error) => {
        process.stderr.write(`standInProvider ${pkg}: ${e.stack ?? e.message}\n`);
        process.exit(1);
    });
}
