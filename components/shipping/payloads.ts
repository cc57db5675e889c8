/**
 * A script shipped on stdin together with its input: the input goes in front of the script, in a
 * frame the script's own language reads (a PHP nowdoc constant, a bash quoted heredoc) and the
 * policies read back (topology/loadBalancer.ts: readPhpState, readBashPayload, with the frames'
 * delimiters).
 */
import { BASH_PAYLOAD_DELIMITER, PHP_STATE_CONSTANT } from "@ha-control-plane/topology";

/** What goes in front of a PHP script: its desired-state document, as the nowdoc constant it reads. */
export function phpStatePrefix(state: unknown): string {
    const json = JSON.stringify(state, null, 2);
    return `<?php\nconst ${PHP_STATE_CONSTANT} = <<<'${PHP_STATE_CONSTANT}'\n${json}\n${PHP_STATE_CONSTANT};\n?>\n`;
}

/** The PHP reconcile script with its desired-state document in front. */
export function phpWithState(script: string, state: unknown): string {
    return `${phpStatePrefix(state)}${script}`;
}

/** What goes in front of a bash script: its payload, assigned to HA_PAYLOAD by a quoted heredoc (no expansion). */
export function bashPayloadPrefix(payload: string): string {
    if (payload.split("\n").includes(BASH_PAYLOAD_DELIMITER)) throw new Error(`payload contains the line ${BASH_PAYLOAD_DELIMITER}`);
    return `HA_PAYLOAD=$(cat <<'${BASH_PAYLOAD_DELIMITER}'\n${payload.replace(/\n$/, "")}\n${BASH_PAYLOAD_DELIMITER}\n)\n`;
}

/** A bash script with its payload in front. */
export function bashWithPayload(script: string, payload: string): string {
    return `${bashPayloadPrefix(payload)}${script}`;
}
