#!/usr/bin/env node
// CDK entry point: `cdk synth|deploy -c stage=dev|staging|prod`.
import { PlaceholderError, UnknownStageError } from '../lib/config';
import { buildApp } from './app';

try {
  buildApp().app.synth();
} catch (err) {
  if (err instanceof UnknownStageError || err instanceof PlaceholderError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
