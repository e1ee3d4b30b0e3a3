-- The flattened column set `lexauthz replay` and `lexauthz unused` read from a CloudTrail Lake or Athena export
-- (CSV or Parquet). Athena's CloudTrail table keeps requestparameters as a JSON string while useridentity and
-- resources are structs, which a CSV export would write as `{key=value, ...}`: flatten them here.
-- Column names are read case-insensitively. Adjust the table name and the time window.
SELECT eventtime, eventsource, eventname, awsregion, recipientaccountid,
       useridentity.type AS ui_type, useridentity.arn AS ui_arn, useridentity.principalid AS ui_principalid,
       useridentity.accesskeyid AS ui_accesskeyid, useridentity.accountid AS ui_accountid,
       useridentity.sessioncontext.sessionissuer.arn AS issuer_arn,
       useridentity.sessioncontext.attributes.mfaauthenticated AS mfa,
       useridentity.invokedby AS invokedby, sourceipaddress, vpcendpointid,
       errorcode, errormessage, requestparameters, json_format(CAST(resources AS JSON)) AS resources_json,
       eventid, readonly
FROM cloudtrail_logs
WHERE eventsource = 'lex.amazonaws.com' AND eventtime > '2026-08-01'
