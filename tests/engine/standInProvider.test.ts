/**
 * The stand-in plugins' diff rules (tests/engine/helpers/standInProvider.ts): what the engine
 * plans from them must be what it plans with the real provider, or the alias test proves nothing.
 */
import { strict as assert } from "assert";
import { changedKeys, replacingKeys } from "./helpers/standInProvider";

const secret = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });

describe("stand-in provider plugins: the real providers' diff rules", () => {
    it("compares inputs with secrets unwrapped and key order ignored, and names every changed key once", () => {
        assert.deepEqual(changedKeys({ create: "a", stdin: secret("x"), connection: { host: "h", port: 22 } }, { connection: { port: 22, host: "h" }, stdin: "x", create: "a" }), []);
        assert.deepEqual(changedKeys({ create: "a", stdin: "x" }, { create: "b", stdin: secret("y"), delete: "d" }), ["create", "delete", "stdin"]);
        assert.deepEqual(changedKeys({ triggers: ["1"] }, {}), ["triggers"]);
    });

    it("command: only triggers replace (pulumi-command's replaceOnChanges); random and proxmoxve: every change replaces", () => {
        assert.deepEqual(replacingKeys("command", ["create", "stdin", "triggers"]), ["triggers"]);
        assert.deepEqual(replacingKeys("command", ["create", "stdin", "connection"]), []);
        assert.deepEqual(replacingKeys("random", ["length"]), ["length"]);
        assert.deepEqual(replacingKeys("proxmoxve", ["memory", "clone"]), ["memory", "clone"]);
    });
});
