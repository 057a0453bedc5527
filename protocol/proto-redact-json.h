/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Redaction of a json-c tree, for lanectl only (the helper links no JSON). */
#pragma once

struct json_object;

/* Walk OBJ in place: a member whose key is sensitive (proto_key_is_sensitive)
 * has its string, number, object or array value replaced by "[REDACTED]";
 * every other string is passed through proto_redact(). Returns the number
 * of replacements or a negative errno. */
int proto_redact_json(struct json_object *obj);
