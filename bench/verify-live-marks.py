# Copies a src tree and puts globalThis.__lm?.(name) marks in it for bench/verify-live.ts, which times
# the steps of each live request between them. The copy is for measuring only, never committed:
#   git archive HEAD src | tar -x -C .scratch --transform 's,^src,head-src,'
#   python3 bench/verify-live-marks.py .scratch/head-src .scratch/instr-src
#   node --import tsx bench/verify-live.ts .scratch/instr-src
import re, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
shutil.rmtree(dst, ignore_errors=True)
shutil.copytree(src, dst)
M = lambda n: f"(globalThis as {{ __lm?: (n: string) => void }}).__lm?.('{n}');"
edits = {
 'two-factor.ts': [
  ("    const route = mount.match(req);\n", "after", "express→tfa, match"),
  ("    checkHostRequest(req);\n", "after", "noStore, checkHost"),
  ("    const within = withinOfRequest(req);\n    const page = pageOf(routes, sub);\n", "after", "withinOfRequest"),
  ("      if (!user) throw new TwoFactorError('ERR_2FA_UNAUTHENTICATED');\n", "after", "resolveUser"),
  ("      if (isCrossSite(req)) throw new TwoFactorError('ERR_2FA_FORBIDDEN_ORIGIN');\n", "after", "isCrossSite"),
  ("      const body = await readBody(req);\n", "after", "readBody"),
  ("      returnTo = safeReturnTo(body.fields.returnTo);\n", "after", "formMode, returnTo"),
  ("      const verified = sub === '/send' && verifiedEnough(rt, req, user, within);\n", "after", "token, origin, verified?"),
  ("      if ('refused' in result) {\n", "after", "route → router"),
  ("        if (rt.metrics.verifyRefused", None, None),
 ],
}
def put(path, anchor, name, where='after'):
    p = f"{dst}/{path}"
    s = open(p).read()
    if s.count(anchor) != 1:  # another version of the file: that step is left unmarked
        print(f'not marked in {path}: {name}', file=sys.stderr)
        return
    ind = re.match(r'\s*', anchor).group(0).replace('\n','')
    line = ind + M(name) + "\n"
    s = s.replace(anchor, anchor + line if where == 'after' else line + anchor)
    open(p, 'w').write(s)
for a, w, n in edits['two-factor.ts']:
    if w: put('two-factor.ts', a, n)
put('two-factor.ts', "        if ('refused' in result) rt.metrics.verifyRefused(result.refused);\n", "metrics.verifyRefused")
put('routes/verify.ts', "  const code = readCode(rawCode, config.codeLength, config.locale);\n", "readCode")
put('routes/verify.ts', "  const userKey = keys.user(user.id);\n", "keys.user")
put('routes/verify.ts', "    const secure = rt.cookies.isSecure(req);\n", "isSecure")
put('routes/verify.ts', "    const id = rt.cookies.readChallenge(req, secure);\n", "readChallenge")
put('routes/verify-one-call.ts', "  let result = await verifyAttempt(input);\n", "input: keys, hashes", 'before')
put('routes/verify-one-call.ts', "  let result = await verifyAttempt(input);\n", "store.verifyAttempt")
put('routes/verify-one-call.ts', "      if (!challenge) break;\n      return wrongCode(", "recordOf", 'before') if False else None
s = open(f"{dst}/routes/verify-one-call.ts").read()
s = s.replace("      const challenge = recordOf(result, id);\n", "      const challenge = recordOf(result, id);\n      " + M("recordOf") + "\n")
s = s.replace("      return wrongCode(rt, verifyWho(rt, req, user, challenge), result.attempts, result.failures);",
  "      const who = verifyWho(rt, req, user, challenge);\n      " + M("verifyWho") + "\n      return wrongCode(rt, who, result.attempts, result.failures);")
s = s.replace("      const state = parseSendState(result.state);\n", "      const state = parseSendState(result.state);\n      " + M("parseSendState") + "\n")
open(f"{dst}/routes/verify-one-call.ts", 'w').write(s)
put('routes/verify-outcome.ts', "  emit(failed);\n", "emit verify.failed")
s = open(f"{dst}/routes/verify-outcome.ts").read()
s = s.replace("  return { refused: new TwoFactorError('ERR_2FA_CODE_INVALID', { details: { attemptsLeft } }) };",
  "  const error = new TwoFactorError('ERR_2FA_CODE_INVALID', { details: { attemptsLeft } });\n  " + M("new TwoFactorError") + "\n  return { refused: error };")
open(f"{dst}/routes/verify-outcome.ts", 'w').write(s)
put('routes/verify-outcome.ts', "  flow.clear(rt, res, secure);\n", "writeVerified", 'before')
put('routes/verify-outcome.ts', "  flow.clear(rt, res, secure);\n", "clearChallenge")
put('routes/verify-outcome.ts', "  emit(event);\n  return { verified: true", "emit verify.succeeded")  if False else None
s = open(f"{dst}/routes/verify-outcome.ts").read()
s = s.replace("  emit(event);\n  return { verified: true", "  emit(event);\n  " + M("emit verify.succeeded") + "\n  return { verified: true")
open(f"{dst}/routes/verify-outcome.ts", 'w').write(s)
put('http.ts', "  if (retryAfter !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfter))));\n", "sendError: Retry-After")
put('http.ts', "    sendJson(res, error.status, { error: { code: error.code, message, ...error.details } });\n", "sendError: details body", 'before')
put('http.ts', "    sendJson(res, error.status, { error: { code: error.code, message, ...details } });\n", "sendError: details body", 'before')
put('http.ts', "  res.statusCode = error.status;\n  res.setHeader('Content-Type', 'application/json; charset=utf-8');\n  res.setHeader('Content-Length', body.length);\n", "sendError: cached body", 'before')
put('http.ts', "  res.statusCode = error.status;\n  res.setHeader('Content-Type', 'application/json; charset=utf-8');\n  res.setHeader('Content-Length', body.length);\n", "sendError: status, 2 headers")
put('http.ts', "  const text = JSON.stringify(body);\n  res.statusCode = status;\n", "sendJson: stringify")
put('http.ts', "  res.setHeader('Content-Length', Buffer.byteLength(text));\n  res.end(text);\n", "sendJson: status, 2 headers", 'before')
print('ok')
