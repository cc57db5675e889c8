/**
 * secrets-stay-secret. The engine hands policies secret values in clear, so "is it marked
 * secret" cannot be asked; what can: which resources make secrets (by type, or outputs the
 * program marks secret), which inputs flow from them (property dependencies), which components
 * hand a config secret to their commands, and values shaped like a credential where only plain
 * text belongs. A command carrying a secret must log nothing and keep stdout/stderr secret.
 */
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import {
    CONFIG_SECRET_CARRIERS,
    ComponentType,
    findSecretMaterial,
    PROVIDER_CREDENTIAL_INPUTS,
    SECRET_CARRYING_INPUTS,
    SECRET_OUTPUT_TYPES,
} from "@ha-control-plane/topology";
import { COMMAND_TYPES, CONFIGMAP_TYPE, FILE_TYPE, known, knownString } from "./resources";

const SECRET_OUTPUTS = ["stdout", "stderr"];

/** Whether a resource's outputs are secret: its type's provider says so, or the program marked them. */
function makesSecrets(r: PolicyResource): boolean {
    return SECRET_OUTPUT_TYPES.includes(r.type) || r.opts.additionalSecretOutputs.length > 0;
}

/** The config secret a component hands its commands, if it is one that does. */
function configSecretOf(r: PolicyResource): string | undefined {
    for (let p = r.parent; p; p = p.parent) {
        const carried = CONFIG_SECRET_CARRIERS[p.type as ComponentType];
        if (carried) return carried;
    }
    return undefined;
}

/** A value as text, for the credential patterns (unknown or secret-placeholder values give none). */
function asText(value: unknown): string | undefined {
    if (typeof value === "string") return value;
    if (value === undefined || value === null) return undefined;
    try {
        return JSON.stringify(value);
    } catch {
        return undefined;
    }
}

/** Inputs of a resource that are shown as they are: in the preview, the state, the logs. */
function plainInputs(r: PolicyResource): [string, string][] {
    if (COMMAND_TYPES.includes(r.type)) {
        const skip = new Set([...SECRET_CARRYING_INPUTS, ...PROVIDER_CREDENTIAL_INPUTS, "stdout", "stderr"]);
        return Object.keys(r.props)
            .filter((k) => !skip.has(k))
            .flatMap((k) => {
                const text = asText(known(() => r.props[k]));
                return text === undefined ? [] : [[k, text] as [string, string]];
            });
    }
    if (r.type === CONFIGMAP_TYPE) {
        const text = asText(known(() => r.props.data));
        return text === undefined ? [] : [["data", text]];
    }
    if (r.type === FILE_TYPE) {
        const text = knownString(() => (r.props.sourceRaw as { data?: unknown } | undefined)?.data);
        return text === undefined ? [] : [["sourceRaw.data", text]];
    }
    return [];
}

export const secretsStaySecret: StackValidationPolicy = {
    name: "secrets-stay-secret",
    description:
        "Commands that carry a bootstrap token, certificate key, private key or TSIG secret take it on stdin only, log " +
        "nothing and keep stdout/stderr secret; no such value is a plain input (command line, triggers, environment, " +
        "ConfigMap data, user-data).",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        for (const r of args.resources) {
            const carried = new Set<string>();
            for (const [input, deps] of Object.entries(r.propertyDependencies)) {
                const sources = deps.filter(makesSecrets);
                if (sources.length === 0) continue;
                const names = sources.map((s) => s.name).join(", ");
                if (SECRET_CARRYING_INPUTS.includes(input) || PROVIDER_CREDENTIAL_INPUTS.includes(input)) {
                    carried.add(`secret output of ${names}`);
                } else if (COMMAND_TYPES.includes(r.type)) {
                    reportViolation(
                        `${r.name}: its input \`${input}\` is built from the secret output of ${names}; that input is shown in plain text ` +
                            `(preview, state, the remote process list). Pass the secret on stdin.`,
                        r.urn,
                    );
                }
            }
            for (const [input, text] of plainInputs(r)) {
                const what = findSecretMaterial(text);
                if (what) reportViolation(`${r.name}: its input \`${input}\` holds ${what} in plain text; pass it on stdin, marked secret`, r.urn);
            }
            if (!COMMAND_TYPES.includes(r.type)) continue;
            const fromConfig = configSecretOf(r);
            if (fromConfig) carried.add(fromConfig);
            const stdin = knownString(() => r.props.stdin);
            const inStdin = stdin === undefined ? undefined : findSecretMaterial(stdin);
            if (inStdin) carried.add(inStdin);
            if (carried.size === 0) continue;
            const what = [...carried].join(", ");
            const logging = knownString(() => r.props.logging) ?? "stdoutAndStderr";
            if (logging !== "none") {
                reportViolation(`${r.name} carries ${what} but logs its output (logging: ${logging}): anything the script echoes lands in the Pulumi logs. Set logging to none.`, r.urn);
            }
            const open = SECRET_OUTPUTS.filter((o) => !r.opts.additionalSecretOutputs.includes(o));
            if (open.length > 0) {
                reportViolation(`${r.name} carries ${what} but its ${open.join(" and ")} ${open.length > 1 ? "are" : "is"} not secret: add them to additionalSecretOutputs, or they are stored in clear in the state.`, r.urn);
            }
        }
    },
};
