// Local tools only (imported first by every local/ entry point): turns off the AWS SDK's Node-version notice and no other warning.
/*
 * @aws-sdk/core's emitWarningIfUnsupportedVersion (node_modules/@aws-sdk/core/dist-cjs/submodules/client/index.js,
 * called from every client's getRuntimeConfig) emits one `process.emitWarning("NodeVersionSupportWarning: …")` on
 * Node < 22 unless AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === "true". The warning has no type or code of
 * its own (it is a plain "Warning"), so the SDK's switch is the one exact filter: `--no-warnings` or a
 * process.on('warning') filter would have to silence or re-print every other warning too. The deployed code is
 * untouched: the media service image and the tool Lambdas run Node 22, where the SDK emits nothing.
 * An explicit value in the environment wins (set it to "false" to see the notice again).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export {};
