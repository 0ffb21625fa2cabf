/*
 * Encoding into a struct buf. protobuf-c computes the exact size first, so the
 * buffer grows once and the message is written straight into it.
 */
#include "proto/proto.h"

#include <stdint.h>
#include <stdio.h>

int proto_pack(const ProtobufCMessage *msg, struct buf *out, char *err, size_t errlen)
{
	size_t need = protobuf_c_message_get_packed_size(msg);
	size_t n;

	if (buf_reserve(out, need) < 0) {
		snprintf(err, errlen, "%s: out of memory encoding %zu bytes",
			 msg->descriptor->name, need);
		return PROTO_EOOM;
	}
	n = protobuf_c_message_pack(msg, (uint8_t *)out->data + out->len);
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}
