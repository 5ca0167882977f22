/*
 * Where an S3 catalog stage's requests go and how they are signed, as the
 * S3 client takes it.  Here, not in io/, because io/ sits below the
 * catalog: the client knows endpoints and variable names, not stages.
 */
#ifndef SPATE_STAGES_S3_SOURCE_H
#define SPATE_STAGES_S3_SOURCE_H

#include "io/s3.h"
#include "spate/catalog.h"

/* The source an S3 catalog stage names (its strings, not copied). */
static inline struct sp_s3_source
sp_s3_source_of_stage(const struct spate_catalog_stage *st)
{
	return (struct sp_s3_source){
	    .endpoint = st->endpoint,
	    .region = st->region,
	    .key_id_env = st->key_id_env,
	    .secret_env = st->secret_env,
	    .credentials_file = st->credentials_file,
	};
}

#endif
