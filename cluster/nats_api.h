/*
 * libnats, loaded when the cluster is first used (core/dynlib.h): the
 * functions spate calls, each a call through sp_nats_api.  Include
 * this instead of <nats/nats.h>.
 */
#ifndef SPATE_CLUSTER_NATS_API_H
#define SPATE_CLUSTER_NATS_API_H

#include <nats/nats.h>

#include "core/dynlib.h"

#define SP_NATS_FUNCS(X)                                                       \
	X(jsConsumerConfig_Init)                                               \
	X(jsConsumerInfo_Destroy)                                              \
	X(jsCtx_Destroy)                                                       \
	X(jsMsgMetaData_Destroy)                                               \
	X(jsOptions_Init)                                                      \
	X(jsPubAck_Destroy)                                                    \
	X(jsPubOptions_Init)                                                   \
	X(jsStreamConfig_Init)                                                 \
	X(jsStreamInfo_Destroy)                                                \
	X(jsSubOptions_Init)                                                   \
	X(js_AddConsumer)                                                      \
	X(js_AddStream)                                                        \
	X(js_CreateKeyValue)                                                   \
	X(js_GetConsumerInfo)                                                  \
	X(js_GetLastMsg)                                                       \
	X(js_GetStreamInfo)                                                    \
	X(js_KeyValue)                                                         \
	X(js_Publish)                                                          \
	X(js_PullSubscribe)                                                    \
	X(kvConfig_Init)                                                       \
	X(kvEntry_Destroy)                                                     \
	X(kvEntry_Key)                                                         \
	X(kvEntry_Value)                                                       \
	X(kvEntry_ValueLen)                                                    \
	X(kvStore_CreateString)                                                \
	X(kvStore_Destroy)                                                     \
	X(kvStore_Purge)                                                       \
	X(kvStore_PutString)                                                   \
	X(kvStore_UpdateString)                                                \
	X(kvStore_Watch)                                                       \
	X(kvWatchOptions_Init)                                                 \
	X(kvWatcher_Destroy)                                                   \
	X(kvWatcher_Next)                                                      \
	X(natsConnection_Close)                                                \
	X(natsConnection_Connect)                                              \
	X(natsConnection_Destroy)                                              \
	X(natsConnection_FlushTimeout)                                         \
	X(natsConnection_JetStream)                                            \
	X(natsMsgHeader_Get)                                                   \
	X(natsMsgList_Destroy)                                                 \
	X(natsMsg_AckSync)                                                     \
	X(natsMsg_Destroy)                                                     \
	X(natsMsg_GetData)                                                     \
	X(natsMsg_GetDataLength)                                               \
	X(natsMsg_GetMetaData)                                                 \
	X(natsMsg_GetSequence)                                                 \
	X(natsMsg_InProgress)                                                  \
	X(natsMsg_NakWithDelay)                                                \
	X(natsMsg_Term)                                                        \
	X(natsOptions_Create)                                                  \
	X(natsOptions_Destroy)                                                 \
	X(natsOptions_SetMaxReconnect)                                         \
	X(natsOptions_SetName)                                                 \
	X(natsOptions_SetReconnectWait)                                        \
	X(natsOptions_SetServers)                                              \
	X(natsOptions_SetTimeout)                                              \
	X(natsStatus_GetText)                                                  \
	X(natsSubscription_Destroy)                                            \
	X(natsSubscription_Fetch)                                              \
	X(nats_GetLastError)

SP_DYNLIB_DECLARE(nats, SP_NATS_FUNCS)

#ifndef SP_NATS_API_TABLE
#define jsConsumerConfig_Init (sp_nats()->jsConsumerConfig_Init)
#define jsConsumerInfo_Destroy (sp_nats()->jsConsumerInfo_Destroy)
#define jsCtx_Destroy (sp_nats()->jsCtx_Destroy)
#define jsMsgMetaData_Destroy (sp_nats()->jsMsgMetaData_Destroy)
#define jsOptions_Init (sp_nats()->jsOptions_Init)
#define jsPubAck_Destroy (sp_nats()->jsPubAck_Destroy)
#define jsPubOptions_Init (sp_nats()->jsPubOptions_Init)
#define jsStreamConfig_Init (sp_nats()->jsStreamConfig_Init)
#define jsStreamInfo_Destroy (sp_nats()->jsStreamInfo_Destroy)
#define jsSubOptions_Init (sp_nats()->jsSubOptions_Init)
#define js_AddConsumer (sp_nats()->js_AddConsumer)
#define js_AddStream (sp_nats()->js_AddStream)
#define js_CreateKeyValue (sp_nats()->js_CreateKeyValue)
#define js_GetConsumerInfo (sp_nats()->js_GetConsumerInfo)
#define js_GetLastMsg (sp_nats()->js_GetLastMsg)
#define js_GetStreamInfo (sp_nats()->js_GetStreamInfo)
#define js_KeyValue (sp_nats()->js_KeyValue)
#define js_Publish (sp_nats()->js_Publish)
#define js_PullSubscribe (sp_nats()->js_PullSubscribe)
#define kvConfig_Init (sp_nats()->kvConfig_Init)
#define kvEntry_Destroy (sp_nats()->kvEntry_Destroy)
#define kvEntry_Key (sp_nats()->kvEntry_Key)
#define kvEntry_Value (sp_nats()->kvEntry_Value)
#define kvEntry_ValueLen (sp_nats()->kvEntry_ValueLen)
#define kvStore_CreateString (sp_nats()->kvStore_CreateString)
#define kvStore_Destroy (sp_nats()->kvStore_Destroy)
#define kvStore_Purge (sp_nats()->kvStore_Purge)
#define kvStore_PutString (sp_nats()->kvStore_PutString)
#define kvStore_UpdateString (sp_nats()->kvStore_UpdateString)
#define kvStore_Watch (sp_nats()->kvStore_Watch)
#define kvWatchOptions_Init (sp_nats()->kvWatchOptions_Init)
#define kvWatcher_Destroy (sp_nats()->kvWatcher_Destroy)
#define kvWatcher_Next (sp_nats()->kvWatcher_Next)
#define natsConnection_Close (sp_nats()->natsConnection_Close)
#define natsConnection_Connect (sp_nats()->natsConnection_Connect)
#define natsConnection_Destroy (sp_nats()->natsConnection_Destroy)
#define natsConnection_FlushTimeout (sp_nats()->natsConnection_FlushTimeout)
#define natsConnection_JetStream (sp_nats()->natsConnection_JetStream)
#define natsMsgHeader_Get (sp_nats()->natsMsgHeader_Get)
#define natsMsgList_Destroy (sp_nats()->natsMsgList_Destroy)
#define natsMsg_AckSync (sp_nats()->natsMsg_AckSync)
#define natsMsg_Destroy (sp_nats()->natsMsg_Destroy)
#define natsMsg_GetData (sp_nats()->natsMsg_GetData)
#define natsMsg_GetDataLength (sp_nats()->natsMsg_GetDataLength)
#define natsMsg_GetMetaData (sp_nats()->natsMsg_GetMetaData)
#define natsMsg_GetSequence (sp_nats()->natsMsg_GetSequence)
#define natsMsg_InProgress (sp_nats()->natsMsg_InProgress)
#define natsMsg_NakWithDelay (sp_nats()->natsMsg_NakWithDelay)
#define natsMsg_Term (sp_nats()->natsMsg_Term)
#define natsOptions_Create (sp_nats()->natsOptions_Create)
#define natsOptions_Destroy (sp_nats()->natsOptions_Destroy)
#define natsOptions_SetMaxReconnect (sp_nats()->natsOptions_SetMaxReconnect)
#define natsOptions_SetName (sp_nats()->natsOptions_SetName)
#define natsOptions_SetReconnectWait (sp_nats()->natsOptions_SetReconnectWait)
#define natsOptions_SetServers (sp_nats()->natsOptions_SetServers)
#define natsOptions_SetTimeout (sp_nats()->natsOptions_SetTimeout)
#define natsStatus_GetText (sp_nats()->natsStatus_GetText)
#define natsSubscription_Destroy (sp_nats()->natsSubscription_Destroy)
#define natsSubscription_Fetch (sp_nats()->natsSubscription_Fetch)
#define nats_GetLastError (sp_nats()->nats_GetLastError)
#endif

#endif
