/**
 * Pulumi.yaml against the code: the file is exactly what tools/pulumiYaml.ts renders from the
 * code's defaults, every key is typed the way Pulumi's project schema allows, each key's default
 * (or its absence) matches what loadTopology accepts, and every default the code has for a key's
 * fields is in its description.
 */
import { strict as assert } from "assert";
import { readdirSync, readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { readProjectFile } from "../../components/projectFiles";
import { ConfigError, LOAD_BALANCER_DEFAULTS, loadTopology } from "@ha-control-plane/topology";
import { CONFIG_KEYS, ConfigKeyDoc, FieldDoc, PULUMI_YAML, renderPulumiYaml } from "../../tools/pulumiYaml";
import { labConfig } from "../helpers/program";

type Raw = Record<string, unknown>;
const load = (raw: Raw) => loadTopology(raw, { project: "ha-control-plane", stack: "lab", readProjectFile });
const lab = (): Raw => JSON.parse(JSON.stringify(labConfig("0").raw));

/** What Pulumi's ValidateConfigValue accepts for a declared type (pkg workspace, project.go). */
function pulumiAccepts(type: string, items: string | undefined, value: unknown): boolean {
    switch (type) {
        case "string": return typeof value === "string";
        case "integer": return Number.isInteger(typeof value === "string" ? Number(value) : value);
        case "boolean": return typeof value === "boolean" || value === "true" || value === "false";
        case "object": return value !== null && typeof value === "object" && !Array.isArray(value);
        case "array": return Array.isArray(value) && items !== undefined && value.every((v) => pulumiAccepts(items, undefined, v));
        default: return false;
    }
}

/** Every leaf of a defaults object, as a path of field names. */
function leaves(value: object, at: string[] = []): string[][] {
    return Object.entries(value).flatMap(([k, v]) =>
        v !== null && typeof v === "object" && !Array.isArray(v) ? leaves(v, [...at, k]) : [[...at, k]],
    );
}

function fieldAt(fields: readonly FieldDoc[] | undefined, at: readonly string[]): FieldDoc | undefined {
    const [head, ...rest] = at;
    const field = fields?.find((f) => f.name === head);
    return rest.length === 0 ? field : fieldAt(field?.fields, rest);
}

describe("Pulumi.yaml, generated from the code (tools/pulumiYaml.ts)", () => {
    const file = readFileSync(PULUMI_YAML, "utf8");
    const project = parse(file) as { config: Record<string, { type?: string; items?: { type?: string }; default?: unknown; description?: string }> };

    it("is exactly what the generator renders from the code's defaults (run npm run gen:pulumi-yaml after changing one)", () => {
        assert.equal(file, renderPulumiYaml(), "Pulumi.yaml drifted from the code: run npm run gen:pulumi-yaml");
    });

    it("changes when a default in the code changes, so the comparison above can fail", () => {
        const changed: Record<string, ConfigKeyDoc> = { ...CONFIG_KEYS, loadBalancer: { ...CONFIG_KEYS.loadBalancer, defaults: { ...LOAD_BALANCER_DEFAULTS, waitUpSeconds: 61 } } };
        const text = renderPulumiYaml(changed);
        assert.notEqual(text, file);
        assert.match((parse(text) as typeof project).config.loadBalancer.description ?? "", /waitUpSeconds \(61: after a pool change/);
        assert.match(project.config.loadBalancer.description ?? "", new RegExp(`waitUpSeconds \\(${LOAD_BALANCER_DEFAULTS.waitUpSeconds}: after a pool change`));
    });

    it("gives every key a type Pulumi's project schema knows, arrays their items' type, and defaults of that type", () => {
        for (const [key, decl] of Object.entries(project.config)) {
            assert.ok(["string", "integer", "boolean", "array", "object"].includes(decl.type ?? ""), `${key} has type ${decl.type}`);
            if (decl.type === "array") assert.ok(decl.items?.type, `${key} is an array without items`);
            if (decl.default !== undefined) assert.ok(pulumiAccepts(decl.type!, decl.items?.type, decl.default), `${key}'s default ${JSON.stringify(decl.default)} is no ${decl.type}`);
            assert.ok((decl.description ?? "").length > 20, `${key} has a description`);
        }
    });

    it("defaults exactly the keys the code can do without: each default loads, each key without one is refused when missing", () => {
        for (const [key, decl] of Object.entries(project.config)) {
            const raw = lab();
            if (decl.default !== undefined) {
                raw[key] = JSON.parse(JSON.stringify(decl.default));
                assert.doesNotThrow(() => load(raw), `${key} = ${JSON.stringify(decl.default)} (its Pulumi.yaml default) is refused`);
            } else {
                delete raw[key];
                assert.throws(() => load(raw), (err: unknown) => err instanceof ConfigError && err.issues.some((i) => i.key === key || i.key.startsWith(`${key}.`)), `${key} may be left out, yet Pulumi.yaml gives it no default`);
            }
        }
    });

    it("lists every default the code has for a key's fields, with the code's value", () => {
        for (const [key, doc] of Object.entries(CONFIG_KEYS)) {
            if (!doc.defaults) continue;
            for (const at of leaves(doc.defaults)) {
                const field = fieldAt(doc.fields, at);
                assert.ok(field, `${key}.${at.join(".")} has a default in the code but no field in Pulumi.yaml's description`);
                const value: unknown = at.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], doc.defaults);
                const description = project.config[key].description ?? "";
                const name = at[at.length - 1];
                if (field.list) {
                    // A list of objects the code defaults to none: written as one that may be left out.
                    assert.deepEqual(value, [], `${key}.${at.join(".")}`);
                    assert.ok(description.includes(`${name}?: [`), `${key}.${at.join(".")} is not marked as one that may be left out`);
                } else {
                    const shown = typeof value === "object" ? JSON.stringify(value) : String(value);
                    assert.match(description, new RegExp(`\\b${name}\\??(: [^(]*)? \\(([^():]*: )?${shown.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`), `${key}.${at.join(".")}: ${shown}`);
                }
            }
        }
    });

    it("has one module per key in topology/config/, holding that key's defaults and reader", () => {
        const dir = path.resolve(__dirname, "..", "..", "topology", "config");
        const modules = readdirSync(dir).filter((f) => f.endsWith(".ts") && !["index.ts", "reader.ts", "fields.ts"].includes(f)).map((f) => f.replace(/\.ts$/, ""));
        assert.deepEqual([...modules].sort(), Object.keys(project.config).sort());
    });
});
